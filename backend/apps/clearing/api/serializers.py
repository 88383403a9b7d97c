from decimal import Decimal

from django.urls import reverse
from rest_framework import serializers

from apps.clearing.models import ClearingFile, ClearingItem


class ClearingFileUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=False,
        help_text="An image cash letter (X9.37 / X9.100-187): ASCII or EBCDIC, with or without record lengths.",
    )


class ClearingFileItemCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField(source="items_total", help_text="Checks in the file.")
    decided = serializers.IntegerField(source="items_decided")
    failed = serializers.IntegerField(source="items_failed")


# "return" is a keyword: the class is built from a dict of its fields.
ClearingFileDecisionCountsSerializer = type(
    "ClearingFileDecisionCountsSerializer",
    (serializers.Serializer,),
    {
        "pay": serializers.IntegerField(source="items_pay"),
        "refer": serializers.IntegerField(source="items_refer"),
        "return": serializers.IntegerField(source="items_return"),
    },
)


class ClearingFileProgressSerializer(serializers.Serializer):
    items_read = serializers.IntegerField(help_text="Checks the run has reached in the file.")
    items_finished = serializers.IntegerField(help_text="Checks decided or failed.")
    fraction = serializers.FloatField(help_text="items_finished / items.total")

    def to_representation(self, row):
        finished = row.items_decided + row.items_failed
        return {
            "items_read": row.items_read,
            "items_finished": finished,
            "fraction": round(finished / row.items_total, 4) if row.items_total else 1.0,
        }


class ClearingFileLinksSerializer(serializers.Serializer):
    items = serializers.CharField()
    export_csv = serializers.CharField()
    export_json = serializers.CharField()

    def to_representation(self, row):
        return {
            "items": reverse("clearing-file-items", args=[row.pk]),
            "export_csv": reverse("clearing-file-export", args=[row.pk, "csv"]),
            "export_json": reverse("clearing-file-export", args=[row.pk, "json"]),
        }


class ClearingFileSerializer(serializers.ModelSerializer):
    items = ClearingFileItemCountsSerializer(source="*", read_only=True)
    decisions = ClearingFileDecisionCountsSerializer(source="*", read_only=True, help_text="Decided items by decision.")
    progress = ClearingFileProgressSerializer(source="*", read_only=True)
    links = ClearingFileLinksSerializer(source="*", read_only=True)
    discrepancies = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Control records whose totals differ from the items."
    )

    class Meta:
        model = ClearingFile
        fields = [
            "id",
            "status",
            "file_name",
            "sha256",
            "size_bytes",
            "encoding",
            "length_prefixed",
            "items",
            "decisions",
            "progress",
            "totals_reconciled",
            "discrepancies",
            "amount_total_cents",
            "returns_skipped",
            "credits_skipped",
            "error",
            "attempts",
            "worker",
            "created_at",
            "started_at",
            "finished_at",
            "links",
        ]
        read_only_fields = fields


def item_record(item: ClearingItem) -> dict:
    """One item as the API and the exports show it."""
    cheque = item.cheque
    return {
        "key": item.key,
        "index": item.index,
        "record_number": item.record_number,
        "sequence_number": item.sequence_number,
        "payor_routing": item.payor_routing,
        "on_us": item.on_us,
        "account": item.account_number or None,
        "amount_cents": item.amount_cents,
        "amount": None if item.amount_cents is None else str(Decimal(item.amount_cents) / 100),
        "business_date": item.business_date.isoformat() if item.business_date else None,
        "status": item.status,
        "decision": item.decision or None,
        "cheque": cheque.pk if cheque else None,
        "reasons": list(cheque.reasons) if cheque else [],
        "failure": {"code": item.failure_code, "reason": item.failure_reason} if item.failure_code else None,
    }


class ClearingItemFailureSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="image_missing, account_missing, account_not_found, invalid_image...")
    reason = serializers.CharField()


class ClearingItemSerializer(serializers.Serializer):
    """A check of the file: its decision (and the cheque decision's id and reasons), or why it failed."""

    key = serializers.CharField(help_text="ECE item sequence number (#n appended when the file repeats one).")
    index = serializers.IntegerField(help_text="Position among the file's checks, from 1.")
    record_number = serializers.IntegerField()
    sequence_number = serializers.CharField()
    payor_routing = serializers.CharField()
    on_us = serializers.CharField()
    account = serializers.CharField(allow_null=True)
    amount_cents = serializers.IntegerField(allow_null=True)
    amount = serializers.CharField(allow_null=True)
    business_date = serializers.DateField(
        allow_null=True, help_text="The bundle's business date: the date the signatories' validity is judged on."
    )
    status = serializers.ChoiceField(choices=ClearingItem.Status.choices)
    decision = serializers.CharField(allow_null=True, help_text="pay, refer or return; null for a failed item.")
    cheque = serializers.IntegerField(allow_null=True, help_text="The cheque decision's id (GET /cheques/{id}/).")
    reasons = serializers.ListField(child=serializers.CharField())
    failure = ClearingItemFailureSerializer(allow_null=True, help_text="Why a failed item could not be decided.")

    def to_representation(self, instance):
        return item_record(instance)
