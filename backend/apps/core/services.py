"""The health report: database, model and broker state."""

from __future__ import annotations

from django.conf import settings
from django.db import connection


def database_state() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "vendor": connection.vendor, "error": str(exc)}
    return {"ok": True, "vendor": connection.vendor, "error": None}


def model_state() -> dict:
    from apps.modelregistry.selectors import get_active_version
    from apps.modelregistry.serving import load_state

    try:
        version = get_active_version()
    except Exception as exc:
        return {"ok": False, "state": "unknown", "error": f"cannot read model versions: {exc}"}
    state = load_state(version)
    report = {
        "ok": state["state"] in ("loaded", "not_loaded"),
        "state": state["state"],
        "error": state.get("error"),
        "active_version": version.name if version else None,
        "active_version_id": version.pk if version else None,
        "sha256": version.sha256 if version else None,
        "thresholds": version.thresholds if version else None,
        "inference_precision": state.get("precision", settings.SIGVERIFY_INFERENCE_PRECISION),
    }
    return report


def broker_state() -> dict:
    url = settings.REDIS_URL
    if not url:
        return {"ok": True, "kind": "embedded", "error": None}
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
    except Exception as exc:
        return {"ok": False, "kind": "redis", "error": str(exc)}
    return {"ok": True, "kind": "redis", "error": None}


def health_report() -> dict:
    database = database_state()
    model = model_state() if database["ok"] else {"ok": False, "state": "unknown", "error": "database unavailable"}
    broker = broker_state()
    status = "ok" if all(part["ok"] for part in (database, model, broker)) else "degraded"
    return {"status": status, "database": database, "model": model, "broker": broker}
