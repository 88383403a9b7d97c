"""config.settings.production refuses to start without its secrets, naming what is missing;
the settings read <repo>/.env only when DJANGO_READ_DOT_ENV_FILE says so (so a developer's
.env never changes what these tests see)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BACKEND = Path(__file__).resolve().parents[1]
REQUIRED = {
    "DJANGO_SECRET_KEY": "x7Hq2-production-test-secret-9f3b1c8d2e7a4b6c",
    "DJANGO_ALLOWED_HOSTS": "sigverify.example,localhost",
    "DATABASE_URL": "postgres://sigverify:pw@db.invalid:5432/sigverify",
}


def load_production(env: dict, code: str = "") -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "SECRET_KEY", "REDIS_URL"))
    }
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings.production", PYTHONPATH=str(BACKEND))
    code = code or "import django; django.setup(); from django.conf import settings; print(settings.ALLOWED_HOSTS)"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=BACKEND, env=clean, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_production_fails_loudly_without_a_required_setting(missing):
    done = load_production({k: v for k, v in REQUIRED.items() if k != missing})
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and missing in done.stderr


@pytest.mark.parametrize("weak", ["change-me-to-a-long-random-string-of-50-characters-or-more", "short"])
def test_production_refuses_a_placeholder_or_short_secret_key(weak):
    done = load_production({**REQUIRED, "DJANGO_SECRET_KEY": weak})
    assert done.returncode != 0 and "DJANGO_SECRET_KEY" in done.stderr


def test_production_starts_with_the_required_settings():
    done = load_production(REQUIRED)
    assert done.returncode == 0, done.stderr
    assert "sigverify.example" in done.stdout


# Records the files django-environ is asked to read instead of reading them.
RECORD_READ_ENV = (
    "import environ; read = []; environ.Env.read_env = classmethod(lambda cls, *a, **k: read.append(a)); "
    "import django; django.setup(); print(read)"
)


def test_dot_env_is_not_read_unless_asked():
    done = load_production(REQUIRED, code=RECORD_READ_ENV)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_dot_env_is_read_when_asked():
    done = load_production({**REQUIRED, "DJANGO_READ_DOT_ENV_FILE": "true"}, code=RECORD_READ_ENV)
    assert done.returncode == 0, done.stderr
    assert str(BACKEND.parent / ".env") in done.stdout
