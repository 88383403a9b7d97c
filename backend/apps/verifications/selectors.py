from __future__ import annotations

from django.db.models import QuerySet

from .models import Verification


def verification_list() -> QuerySet[Verification]:
    return Verification.objects.select_related("signer", "model_version", "requested_by", "review__reviewer")
