"""The model registry's part of the health report (registered in ModelRegistryConfig.ready())."""

import pytest

pytestmark = pytest.mark.django_db


def test_health_reports_the_active_model(anon_client, active_version, settings):
    settings.REDIS_URL = ""
    body = anon_client.get("/api/v1/health/").json()
    assert body["status"] == "ok"
    assert body["model"]["active_version"] == active_version.name
    assert body["model"]["sha256"] == active_version.sha256
    assert body["model"]["state"] in ("loaded", "not_loaded")
    # Before the first verification this process has loaded nothing: the configured path shows.
    assert body["model"]["inference_precision"] in ("auto", "fp32", "bf16")


def test_health_shows_a_loaded_model_and_its_resolved_precision_after_first_use(anon_client, verification):
    model = anon_client.get("/api/v1/health/").json()["model"]
    assert model["state"] == "loaded"
    assert model["inference_precision"] in ("fp32", "bf16")  # "auto" resolved to what really runs


def test_health_without_an_active_model(anon_client, active_version):
    from apps.modelregistry.models import ModelVersion

    ModelVersion.objects.update(is_active=False)
    body = anon_client.get("/api/v1/health/").json()
    assert body["status"] == "degraded"
    assert body["model"]["state"] == "no_active_version"


def test_the_model_part_is_unknown_when_the_database_is_down():
    from apps.core.health import health_checks

    model = next(c for c in health_checks() if c.name == "model")
    assert model.run(database_ok=False) == {"ok": False, "state": "unknown", "error": "database unavailable"}
