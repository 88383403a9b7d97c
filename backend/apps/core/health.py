"""The health report's parts that apps above core contribute (the model registry: the active
model). Each app registers a ``HealthCheck`` in its ``AppConfig.ready()``; core itself checks
the database and the broker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class HealthCheck:
    name: str  # its key in the report, e.g. "model"
    check: Callable[[], dict]  # -> {"ok": bool, "error": str | None, ...}
    serializer: type  # a ComponentSerializer describing check()'s answer in the OpenAPI schema
    needs_database: bool = True  # when the database is down, answer ``database_down`` without running it
    database_down: dict = field(default_factory=dict)  # extra keys of that answer

    def run(self, database_ok: bool) -> dict:
        if self.needs_database and not database_ok:
            return {"ok": False, **self.database_down, "error": "database unavailable"}
        return self.check()


_registered: dict[str, HealthCheck] = {}


def register_health_check(check: HealthCheck) -> None:
    """Add (or replace, by name) a part of the health report; call it from ``AppConfig.ready()``."""
    if check.name in ("status", "database", "broker"):
        raise ValueError(f"{check.name!r} is a part core reports itself")
    _registered[check.name] = check


def health_checks() -> list[HealthCheck]:
    return list(_registered.values())
