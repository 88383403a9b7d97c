"""The health report: database and broker state, and the parts apps register (``health.py``)."""

from __future__ import annotations

from django.conf import settings
from django.db import connection

from .health import health_checks


def database_state() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "vendor": connection.vendor, "error": str(exc)}
    return {"ok": True, "vendor": connection.vendor, "error": None}


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
    parts = {"database": database, **{c.name: c.run(database["ok"]) for c in health_checks()}, "broker": broker_state()}
    status = "ok" if all(part["ok"] for part in parts.values()) else "degraded"
    return {"status": status, **parts}
