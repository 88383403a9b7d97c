from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet

from .models import ModelVersion, Promotion
from .serving import load_state


def get_active_version() -> ModelVersion | None:
    """The active version: one indexed query, cheap enough to run on every request."""
    return ModelVersion.objects.filter(is_active=True).first()


def model_version_list() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.all()


def promotion_list() -> QuerySet[Promotion]:
    from .services import fail_stale_promotions

    fail_stale_promotions()
    return Promotion.objects.select_related("requested_by", "model_version", "previous_version")


def model_state() -> dict:
    """The model part of the health report: the active version and whether this process can serve it."""
    try:
        version = get_active_version()
    except Exception as exc:
        return {"ok": False, "state": "unknown", "error": f"cannot read model versions: {exc}"}
    state = load_state(version)
    return {
        "ok": state["state"] in ("loaded", "not_loaded"),
        "state": state["state"],
        "error": state.get("error"),
        "active_version": version.name if version else None,
        "active_version_id": version.pk if version else None,
        "sha256": version.sha256 if version else None,
        "thresholds": version.thresholds if version else None,
        "inference_precision": state.get("precision", settings.SIGVERIFY_INFERENCE_PRECISION),
    }
