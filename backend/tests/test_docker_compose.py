"""docker-compose.yml, the Dockerfile and .env.example, checked without a Docker engine.

No Docker runs where this suite runs, so these tests parse the files and check them against the
repository: each service's command names an entry point that exists here, every environment
variable a service sets is one the code reads, volumes and healthchecks are present, and
.env.example lists every setting the code reads. The stack itself is not started here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BACKEND = REPO / "backend"
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
OUR_IMAGE = ("web", "worker", "gpu-worker", "interface")  # built from the repo's Dockerfile
APP_ROOT = "/app"  # the Dockerfile's WORKDIR: the repository's root inside the image

# Variables read by third-party programs, not by our code, and who reads them.
THIRD_PARTY_ENV = {
    "DJANGO_SETTINGS_MODULE": "Django",
    "GUNICORN_CMD_ARGS": "gunicorn",
}
# Sources that read the environment: settings, Celery app, management commands, run script, sigverify,
# the interface and the root conftest.
CODE_SOURCES = [
    *sorted((BACKEND / "config").rglob("*.py")),
    *sorted(BACKEND.glob("apps/*/management/commands/*.py")),
    *sorted((BACKEND / "scripts").glob("*.py")),
    *sorted((BACKEND / "sigverify").glob("*.py")),
    *sorted((REPO / "interface").glob("*.py")),
    *sorted((REPO / "interface" / "app_pages").glob("*.py")),
    REPO / "conftest.py",  # SIGVERIFY_SHARED_DATASETS
]
ENV_READ = re.compile(
    r"""(?:\benv(?:\.\w+)?|environ\.get|getenv|environ\.setdefault|_required)\(\s*"([A-Z][A-Z0-9_]*)"(?:\s*,\s*"([A-Z][A-Z0-9_]*)")?"""
    r"""|environ\[\s*"([A-Z][A-Z0-9_]*)"\s*\]"""
)
INTERPOLATION = re.compile(r"\$\{([A-Z][A-Z0-9_]*)")


def names_read_by_code() -> set[str]:
    names = set()
    for path in CODE_SOURCES:
        for match in ENV_READ.finditer(path.read_text()):
            names.update(n for n in match.groups() if n)
    return names


def env_example_names() -> set[str]:
    text = (REPO / ".env.example").read_text()
    return set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def command_words(service: dict) -> list[str]:
    command = service["command"]
    return command if isinstance(command, list) else shlex.split(command)


def repo_path(container_path: str, working_dir: str) -> Path:
    """A path inside the image -> the file in this repository it was copied from."""
    full = container_path if container_path.startswith("/") else f"{working_dir.rstrip('/')}/{container_path}"
    assert full.startswith(APP_ROOT + "/"), f"{full} is not inside {APP_ROOT}"
    return REPO / full[len(APP_ROOT) + 1 :]


def management_commands() -> set[str]:
    from django.core.management import get_commands

    return set(get_commands())


def test_the_services_of_the_product():
    assert set(SERVICES) == {"postgres", "redis", "web", "worker", "gpu-worker", "interface"}


def test_dockerfile_installs_the_pinned_requirements_and_copies_what_compose_runs():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert f"WORKDIR {APP_ROOT}" in dockerfile
    assert "pip install -r requirements.txt" in dockerfile
    for source in ("requirements.txt", "backend/", "interface/", "trained_model_parameters/"):
        assert re.search(rf"^COPY {re.escape(source)} ", dockerfile, flags=re.MULTILINE), source
        assert (REPO / source).exists(), source
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        assert not line or "==" in line, f"requirements.txt is not pinned: {line}"
    for service in OUR_IMAGE:
        assert SERVICES[service]["build"] == ".", service


@pytest.mark.parametrize("name,path", [("postgres", "/var/lib/postgresql/data"), ("redis", "/data")])
def test_postgres_and_redis_have_named_volumes_and_healthchecks(name, path):
    service = SERVICES[name]
    volumes = dict(v.split(":", 1) for v in service["volumes"])
    assert path in volumes.values()
    named = [src for src, dst in volumes.items() if dst == path][0]
    assert named in COMPOSE["volumes"], f"{name}: {named} is not a named volume"
    assert service["healthcheck"]["test"]


def test_web_migrates_then_serves_django_with_gunicorn():
    web = SERVICES["web"]
    words = command_words(web)
    text = " ".join(words)
    assert text.index("manage.py migrate") < text.index("gunicorn")
    wsgi_target = next(w for w in re.split(r"\s+", text) if w.endswith(":application"))
    module = wsgi_target.split(":")[0]
    wsgi_file = BACKEND / (module.replace(".", "/") + ".py")
    assert wsgi_file.is_file() and "application = " in wsgi_file.read_text()
    for command in re.findall(r"manage\.py (\w+)", text):
        assert command in management_commands(), f"web runs an unknown management command: {command}"
    assert repo_path("manage.py", web["working_dir"]).is_file()


def test_web_mounts_media_and_model_volumes_where_the_settings_look():
    web = SERVICES["web"]
    mounts = {dst: src for src, dst in (v.split(":")[:2] for v in web["volumes"])}
    for setting in ("MEDIA_ROOT", "SIGVERIFY_MODELS_ROOT"):
        target = web["environment"][setting]
        assert target in mounts, f"{setting}={target} is not a mounted volume"
        assert mounts[target] in COMPOSE["volumes"]
    assert any("/api/v1/health/" in part for part in web["healthcheck"]["test"])


def test_shipped_model_dir_is_in_the_image():
    model_dir = SERVICES["web"]["environment"]["SIGVERIFY_MODEL_DIR"]
    assert repo_path(model_dir, "/").is_dir()


@pytest.mark.parametrize("name,queue", [("worker", "default"), ("gpu-worker", "gpu")])
def test_celery_workers_consume_their_queue(name, queue):
    service = SERVICES[name]
    words = command_words(service)
    assert words[:2] == ["celery", "-A"]
    app_module = words[2]
    assert (repo_path(app_module.replace(".", "/"), service["working_dir"]) / "celery.py").is_file()
    assert "app = Celery(" in (BACKEND / "config" / "celery.py").read_text()
    assert words[words.index("-Q") + 1] == queue
    env = service["environment"]
    assert queue == env["SIGVERIFY_DEFAULT_QUEUE" if queue == "default" else "SIGVERIFY_GPU_QUEUE"]
    mounts = {dst for _, dst in (v.split(":")[:2] for v in service["volumes"])}
    assert {env["MEDIA_ROOT"], env["SIGVERIFY_MODELS_ROOT"], env["SIGVERIFY_ORGANIZED_DATA"]} <= mounts
    assert service["healthcheck"]["test"]


def test_the_default_worker_runs_celery_beat_once():
    """The stale-run sweeps are scheduled by beat (config/celery.py): one service runs it."""
    with_beat = [name for name, service in SERVICES.items() if "command" in service and "-B" in command_words(service)]
    assert with_beat == ["worker"]


def test_gpu_worker_uses_the_solo_pool_and_reserves_an_nvidia_gpu():
    service = SERVICES["gpu-worker"]
    words = command_words(service)
    assert words[words.index("--pool") + 1] == "solo"
    devices = service["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)
    assert "GPU node" in (REPO / "docker-compose.yml").read_text()


def test_interface_runs_streamlit_against_web_with_a_healthcheck():
    service = SERVICES["interface"]
    words = command_words(service)
    assert words[:2] == ["streamlit", "run"]
    assert repo_path(words[2], service["working_dir"]).is_file()
    assert service["environment"]["SIGVERIFY_API_URL"].startswith("http://web:8000/")
    assert any("/_stcore/health" in part for part in service["healthcheck"]["test"])
    assert service["depends_on"]["web"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", OUR_IMAGE)
def test_every_environment_variable_a_service_sets_is_read_by_the_code(name):
    read = names_read_by_code()
    unknown = sorted(set(SERVICES[name].get("environment", {})) - read - set(THIRD_PARTY_ENV))
    assert not unknown, f"{name} sets variables nothing reads: {unknown}"


def test_env_example_lists_every_setting_and_nothing_else():
    listed = env_example_names()
    # CI and SIGVERIFY_TEST_MEDIA_ROOT are set by CI and the test settings; PYTHON* are the interpreter's.
    read = {
        n for n in names_read_by_code() if n not in ("CI", "SIGVERIFY_TEST_MEDIA_ROOT") and not n.startswith("PYTHON")
    }
    compose_vars = set(INTERPOLATION.findall((REPO / "docker-compose.yml").read_text()))
    assert not (read - listed), f".env.example misses: {sorted(read - listed)}"
    assert not (compose_vars - listed), f".env.example misses compose variables: {sorted(compose_vars - listed)}"
    stale = listed - read - compose_vars - set(THIRD_PARTY_ENV)
    assert not stale, f".env.example lists variables nothing reads: {sorted(stale)}"


def test_required_secrets_have_no_default_in_compose():
    text = (REPO / "docker-compose.yml").read_text()
    for name in ("DJANGO_SECRET_KEY", "POSTGRES_PASSWORD"):
        assert re.search(rf"\$\{{{name}:\?", text), f"{name} must be required (${{{name}:?...}})"
