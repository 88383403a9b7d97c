"""The health report: core's database and broker parts, and the parts apps register
(the model part is tested with its app, in apps/modelregistry/tests/test_health.py)."""

import pytest

from apps.core.api.serializers import ComponentSerializer
from apps.core.health import HealthCheck, health_checks, register_health_check
from apps.core.services import health_report

pytestmark = pytest.mark.django_db


def test_health_reports_database_and_broker(anon_client, active_version, settings):
    settings.REDIS_URL = ""
    response = anon_client.get("/api/v1/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"] == {"ok": True, "kind": "embedded", "error": None}


def test_registered_parts_are_reported_and_need_the_database(monkeypatch):
    from apps.core import health

    monkeypatch.setattr(health, "_registered", dict(health._registered))
    register_health_check(
        HealthCheck(
            name="spool",
            check=lambda: {"ok": False, "error": "full"},
            serializer=ComponentSerializer,
            database_down={"state": "unknown"},
        )
    )
    assert [c.name for c in health_checks()][-1] == "spool"
    report = health_report()
    assert report["spool"] == {"ok": False, "error": "full"} and report["status"] == "degraded"
    assert health_checks()[-1].run(database_ok=False) == {
        "ok": False,
        "state": "unknown",
        "error": "database unavailable",
    }
    with pytest.raises(ValueError):
        register_health_check(HealthCheck(name="broker", check=dict, serializer=ComponentSerializer))


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
