from __future__ import annotations

from django.db.models import QuerySet

from .models import ModelVersion


def get_active_version() -> ModelVersion | None:
    """The active version: one indexed query, cheap enough to run on every request."""
    return ModelVersion.objects.filter(is_active=True).first()


def model_version_list() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.all()
