from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from .models import BatchItem, Verification, VerificationBatch


def verification_list() -> QuerySet[Verification]:
    return Verification.objects.select_related("signer", "model_version", "requested_by", "review__reviewer")


def batch_list(user) -> QuerySet[VerificationBatch]:
    """The batches ``user`` may read, with their progress counted from the items: all of
    them with ``view_verificationbatch`` (admins), else the user's own."""
    batches = (
        VerificationBatch.objects.select_related("requested_by")
        .annotate(
            items_done=Count("items", filter=~Q(items__status=BatchItem.Status.PENDING)),
            items_failed=Count("items", filter=Q(items__status=BatchItem.Status.FAILED)),
        )
        .order_by("-created_at", "-id")
    )  # Meta.ordering does not apply to aggregate queries
    if not user.has_perm("verifications.view_verificationbatch"):
        batches = batches.filter(requested_by=user)
    return batches


def batch_items(batch: VerificationBatch) -> QuerySet[BatchItem]:
    return batch.items.select_related("verification").order_by("index")
