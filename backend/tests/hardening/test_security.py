"""Security review as tests: deployment checks, secrets, unsafe deserialisation, who sees what.

Covered elsewhere and not repeated here: the permission matrix of the signer, verification,
model-version and account endpoints (accounts/tests/test_permissions.py), login throttling and logout (accounts/tests/test_auth.py),
media not served under /media/ (signers/tests/test_api.py), a corrupted weights file
(modelregistry/tests/test_registry.py).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from apps.accounts.services import token_issue, user_create_with_roles

BACKEND = Path(__file__).resolve().parents[2]
REPO = BACKEND.parent


def _production_env(tmp_path, **changes) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECRET_KEY", "DATABASE_URL"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "signatures.bank.example",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
            "MEDIA_ROOT": str(tmp_path / "media"),
            "PYTHONPATH": str(BACKEND),
        }
    )
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _run(argv, env, timeout=300):
    return subprocess.run(argv, cwd=BACKEND, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_check_deploy_is_clean_under_production_settings(tmp_path):
    result = _run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], _production_env(tmp_path)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


SETTINGS_PROBE = """
import json, django
django.setup()
from django.conf import settings
from config.celery import app
print(json.dumps({
    "secret_from_env": settings.SECRET_KEY == __import__("os").environ["DJANGO_SECRET_KEY"],
    "debug": settings.DEBUG,
    "hosts": settings.ALLOWED_HOSTS,
    "database": settings.DATABASES["default"]["NAME"],
    "login_rate": settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login"],
    "media_url": settings.MEDIA_URL,
    "celery_accept": list(app.conf.accept_content),
    "celery_serializer": app.conf.task_serializer,
    "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
    "csrf_cookie_secure": settings.CSRF_COOKIE_SECURE,
}))
"""


@pytest.mark.slow
def test_production_settings_take_secrets_and_hosts_from_the_environment(tmp_path):
    env = _production_env(tmp_path)
    result = _run([sys.executable, "-c", SETTINGS_PROBE], env)
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["secret_from_env"] is True
    assert probe["debug"] is False
    assert probe["hosts"] == ["signatures.bank.example"]
    assert probe["database"].endswith("deploy.sqlite3")
    assert probe["login_rate"] and not probe["login_rate"].startswith("0")
    assert probe["media_url"] is None  # uploads are never served as static files
    assert probe["celery_accept"] == ["json"] and probe["celery_serializer"] == "json"  # no pickle on the broker
    assert probe["session_cookie_secure"] and probe["csrf_cookie_secure"]

    # Without a secret key (or hosts) production refuses to start instead of using a default.
    for missing in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS"):
        result = _run(
            [sys.executable, "-c", "import django; django.setup()"], _production_env(tmp_path, **{missing: None})
        )
        assert result.returncode != 0, missing
        assert "ImproperlyConfigured" in result.stderr, result.stderr[-500:]


def _source_files():
    skip = {
        ".venv",
        "var",
        "node_modules",
        ".git",
        "__pycache__",
        "runs",
        "organized_data",
        "image_pairs",
        "test-artifacts",
        ".hypothesis",
    }
    for root in (REPO / "backend", REPO / "interface", REPO / "benchmarks", REPO / "model_notebooks", REPO / ".ci"):
        if not root.exists():
            continue
        for path in root.rglob("*"):
            if path.suffix in (".py", ".ipynb") and not skip.intersection(path.relative_to(REPO).parts):
                yield path
    yield REPO / "conftest.py"


# Built from parts so that this file does not match itself.
PK = "pick" + "le"
UNSAFE_PATTERNS = [
    re.compile(r"^\s*(import|from)\s+(c?" + PK + r"|dill|cloudpickle|joblib|shelve|marshal)\b", re.M),
    re.compile(r"\b(c?" + PK + r"|dill|joblib|marshal)\.loads?\("),
    re.compile(r"allow_" + PK + r"\s*=\s*True"),
    re.compile(r"read_" + PK + r"\(|to_" + PK + r"\("),
    re.compile(r"yaml\.load\((?![^)]*SafeLoader)"),
]
TORCH_LOAD = re.compile(r"torch\.(?:jit\.)?load\(")


def _call_text(text: str, start: int) -> str:
    """The text of a call from its opening parenthesis to the matching closing one."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "(":
            depth += 1
        elif text[index] == ")":
            depth -= 1
            if depth == 0:
                return text[start : index + 1]
    return text[start:]


def test_no_pickle_anywhere_and_torch_load_only_with_weights_only():
    offenders = []
    files = list(_source_files())
    assert len(files) > 50  # the walk found the code
    for path in files:
        text = path.read_text(errors="replace")
        for pattern in UNSAFE_PATTERNS:
            for match in pattern.finditer(text):
                offenders.append(f"{path.relative_to(REPO)}: {match.group(0).strip()}")
        for match in TORCH_LOAD.finditer(text):
            call = _call_text(text, match.end() - 1)
            if not re.search(r"weights_only\s*=\s*True", call):
                offenders.append(f"{path.relative_to(REPO)}: torch.load without weights_only=True: {call[:80]}")
    assert not offenders, "\n".join(offenders)


def test_shipped_weights_are_safetensors_with_a_checked_sha256():
    from sigverify.weights import sha256_file

    shipped = REPO / "trained_model_parameters"
    unsafe = [p.name for p in shipped.glob("*") if p.suffix in (".pt", ".pth", ".pkl", ".bin", ".ckpt", ".joblib")]
    assert not unsafe, unsafe
    weights = shipped / "model.safetensors"
    if weights.exists():
        card = json.loads((shipped / "model_card.json").read_text())
        assert card["sha256"] == sha256_file(weights)


def test_a_weights_file_that_does_not_match_its_sha256_is_refused(tmp_path):
    from sigverify.errors import ModelLoadError
    from sigverify.weights import load_model
    from testsupport.tiny_model import write_tiny_model

    directory = write_tiny_model(tmp_path / "model")
    weights = directory / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="sha256"):
        load_model(directory)


# --- tokens ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_revoked_token_stops_working_and_a_new_login_gets_a_new_one(anon_client, make_user):
    make_user("clerk", username="teller", password="pw-Strong-123")
    first = anon_client.post(
        "/api/v1/auth/token/", {"username": "teller", "password": "pw-Strong-123"}, format="json"
    ).json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    assert client.get("/api/v1/auth/me/").status_code == 200
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert client.get("/api/v1/auth/me/").status_code == 401
    second = anon_client.post(
        "/api/v1/auth/token/", {"username": "teller", "password": "pw-Strong-123"}, format="json"
    ).json()["token"]
    assert second != first
    assert client.get("/api/v1/auth/me/").status_code == 401


@pytest.mark.django_db
def test_throttles_trust_x_forwarded_for_only_behind_declared_proxies(settings):
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory
    from rest_framework.throttling import SimpleRateThrottle

    def ident():
        request = APIRequestFactory().get("/", HTTP_X_FORWARDED_FOR="203.0.113.7, 198.51.100.9", REMOTE_ADDR="10.0.0.2")
        return SimpleRateThrottle.get_ident(SimpleRateThrottle.__new__(SimpleRateThrottle), Request(request))

    assert ident() == "10.0.0.2"  # default: a client cannot pick its throttle key with a forged header
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert ident() == "198.51.100.9"  # the address our one proxy saw


def test_an_inactive_user_cannot_use_an_existing_token(make_user):
    user = make_user("clerk")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user).key}")
    assert client.get("/api/v1/auth/me/").status_code == 200
    user.is_active = False
    user.save()
    assert client.get("/api/v1/auth/me/").status_code == 401


# --- uploaded images ---------------------------------------------------------------------


@pytest.mark.django_db
def test_uploaded_images_reach_only_authorised_users(verification, make_user):
    reference = verification.signer.references.first()
    urls = [
        f"/api/v1/verifications/{verification.pk}/image/",
        f"/api/v1/verifications/{verification.pk}/preprocessed/",
        f"/api/v1/signers/{verification.signer.pk}/references/{reference.pk}/image/",
        f"/api/v1/signers/{verification.signer.pk}/references/{reference.pk}/preprocessed/",
    ]
    direct = [
        f"/media/{verification.image.name}",
        f"/{verification.image.name}",
        f"/static/{verification.image.name}",
        f"/api/v1/media/{verification.image.name}",
    ]

    def client(*roles):
        c = APIClient()
        if roles != ("anonymous",):
            c.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(make_user(*roles)).key}")
        return c

    clerk, anonymous, ml_staff, no_role = client("clerk"), client("anonymous"), client("ml_staff"), client()
    for url in urls:
        allowed = clerk.get(url)
        assert allowed.status_code == 200, url
        assert allowed["Content-Type"].startswith("image/")
        assert allowed["X-Content-Type-Options"] == "nosniff"  # a polyglot is never sniffed as HTML
        assert "private" in allowed["Cache-Control"]
        assert anonymous.get(url).status_code == 401
        assert ml_staff.get(url).status_code == 403
        assert no_role.get(url).status_code == 403
    for url in direct:
        assert clerk.get(url).status_code == 404, url


# --- permission matrix: the training and promotion routes for every caller ---------------

CALLERS = ("anonymous", "no_role", "clerk", "integrator", "ml_staff", "admin", "superuser")
TRAINING_ALLOWED = {"ml_staff", "admin", "superuser"}


@pytest.mark.django_db
@pytest.mark.parametrize("caller", CALLERS)
def test_training_routes_permission_matrix(
    caller, candidate_model_version, django_capture_on_commit_callbacks, settings, tmp_path
):
    from apps.modelregistry.models import Promotion
    from apps.training.models import TrainingJob

    settings.SIGVERIFY_ORGANIZED_DATA = tmp_path
    client = APIClient()
    if caller != "anonymous":
        roles = () if caller in ("no_role", "superuser") else (caller,)
        user = user_create_with_roles(f"m-{caller}", "pw-Strong-123", roles=roles, is_superuser=caller == "superuser")
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user).key}")
    job = TrainingJob.objects.create(epochs=1, loss="contrastive")
    promotion = Promotion.objects.create(model_version=candidate_model_version, status="failed")
    with django_capture_on_commit_callbacks(execute=False):
        answers = {
            "training-jobs list": client.get("/api/v1/training-jobs/").status_code,
            "training-jobs detail": client.get(f"/api/v1/training-jobs/{job.pk}/").status_code,
            "training-jobs create": client.post("/api/v1/training-jobs/", {"datasets": []}, format="json").status_code,
            "training-jobs cancel": client.post(f"/api/v1/training-jobs/{job.pk}/cancel/").status_code,
            "promote": client.post(f"/api/v1/model-versions/{candidate_model_version.pk}/promote/").status_code,
            "promotions list": client.get("/api/v1/promotions/").status_code,
            "promotions detail": client.get(f"/api/v1/promotions/{promotion.pk}/").status_code,
        }
    for name, code in answers.items():
        if caller in TRAINING_ALLOWED:
            assert code not in (401, 403) and code < 500, (caller, name, code)
        else:
            assert code == (401 if caller == "anonymous" else 403), (caller, name, code)


@pytest.fixture
def candidate_model_version(db, tmp_path, active_version):
    from apps.modelregistry.services import model_version_register
    from testsupport.tiny_model import write_tiny_model

    version, _ = model_version_register(write_tiny_model(tmp_path / "candidate", name="candidate", seed=5))
    return version


def test_every_api_route_is_in_a_permission_matrix():
    from django.urls import get_resolver

    from apps.accounts.tests.test_permissions import ENDPOINTS

    def walk(patterns, prefix=""):
        for p in patterns:
            if hasattr(p, "url_patterns"):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            else:
                yield prefix + str(p.pattern)

    def normalise(route: str) -> str:
        route = re.sub(r"\(\?P<[^>]+>[^)]*\)", "{}", route)
        route = re.sub(r"<[^>]+>", "{}", route)
        return re.sub(r"[\^$]", "", route).rstrip("/") + "/"

    covered = {normalise(re.sub(r"\{[a-z_]+\}", "{}", template.lstrip("/"))) for _, _, template, _, _ in ENDPOINTS}
    covered |= {
        normalise(r)
        for r in (
            "api/v1/training-jobs/",
            "api/v1/training-jobs/{}/",
            "api/v1/training-jobs/{}/cancel/",
            "api/v1/model-versions/{}/promote/",
            "api/v1/promotions/",
            "api/v1/promotions/{}/",
        )
    }
    # verifications/tests/test_batches.py::test_batch_routes_permission_matrix
    covered |= {
        normalise(r)
        for r in (
            "api/v1/verification-batches/",
            "api/v1/verification-batches/{}/",
            "api/v1/verification-batches/{}/resume/",
        )
    }
    # mandates/tests/test_permissions.py::test_routes_permission_matrix
    from apps.mandates.tests.test_permissions import ROUTE_TEMPLATES

    covered |= {normalise(r) for r in ROUTE_TEMPLATES}
    # clearing/tests/test_permissions.py::test_routes_permission_matrix
    from apps.clearing.tests.test_permissions import ROUTE_TEMPLATES as CLEARING_ROUTES

    covered |= {normalise(r) for r in CLEARING_ROUTES}
    # core/tests/test_api_root.py: the API root is open to anyone (it names URLs only)
    covered.add(normalise("api/v1/"))
    routes = {normalise(r) for r in walk(get_resolver().url_patterns) if r.startswith("api/v1/")}
    uncovered = sorted(routes - covered)
    assert not uncovered, uncovered
