from __future__ import annotations

from django.db.models import QuerySet

from .models import ModelVersion, Promotion


def get_active_version() -> ModelVersion | None:
    """The active version: one indexed query, cheap enough to run on every request."""
    return ModelVersion.objects.filter(is_active=True).first()


def model_version_list() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.all()


def promotion_list() -> QuerySet[Promotion]:
    from .services import fail_stale_promotions

    fail_stale_promotions()
    return Promotion.objects.select_related("requested_by", "model_version", "previous_version")
