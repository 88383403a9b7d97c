import pytest

pytestmark = pytest.mark.django_db


def test_health_reports_database_model_and_broker(anon_client, active_version, settings):
    settings.REDIS_URL = ""
    response = anon_client.get("/api/v1/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["model"]["active_version"] == active_version.name
    assert body["model"]["sha256"] == active_version.sha256
    assert body["model"]["state"] in ("loaded", "not_loaded")
    # Before the first verification this process has loaded nothing: the configured path shows.
    assert body["model"]["inference_precision"] in ("auto", "fp32", "bf16")
    assert body["broker"] == {"ok": True, "kind": "embedded", "error": None}


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


def test_health_reports_an_unreachable_broker(anon_client, active_version, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    body = anon_client.get("/api/v1/health/").json()
    assert body["status"] == "degraded"
    assert body["broker"]["kind"] == "redis"
    assert body["broker"]["ok"] is False and body["broker"]["error"]


def test_health_pings_a_real_redis_when_configured(anon_client, active_version, settings):
    import os

    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL not set (CI sets it)")
    settings.REDIS_URL = url
    assert anon_client.get("/api/v1/health/").json()["broker"] == {"ok": True, "kind": "redis", "error": None}
