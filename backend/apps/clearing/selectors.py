from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from .models import ClearingFile, ClearingItem


def clearing_file_list() -> QuerySet[ClearingFile]:
    """Clearing files with their items counted by outcome (a bank's clearing is everyone's to see)."""
    return (
        ClearingFile.objects.select_related("requested_by")
        .annotate(
            items_decided=Count("items", filter=Q(items__status=ClearingItem.Status.DECIDED)),
            items_failed=Count("items", filter=Q(items__status=ClearingItem.Status.FAILED)),
            items_pay=Count("items", filter=Q(items__decision="pay")),
            items_refer=Count("items", filter=Q(items__decision="refer")),
            items_return=Count("items", filter=Q(items__decision="return")),
        )
        .order_by("-created_at", "-id")
    )  # Meta.ordering does not apply to aggregate queries


def clearing_items(clearing_file: ClearingFile) -> QuerySet[ClearingItem]:
    return clearing_file.items.select_related("cheque").order_by("index")
