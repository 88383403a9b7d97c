from django.conf import settings
from django.db import models

from apps.core.models import ResumableRunModel


def clearing_file_upload_path(instance, filename):
    # Services pass "<sha256>.icl": no user-controlled name reaches the disk.
    return f"clearing-files/{filename}"


class ClearingFile(ResumableRunModel):
    """An image cash letter received for clearing, and its run: every check in it decided
    against its account on a worker (``runs.run_clearing_file``), progress as it goes.

    One row per file content (sha256): a re-upload finds this row and adds nothing.
    """

    file = models.FileField(upload_to=clearing_file_upload_path, max_length=300)
    sha256 = models.CharField(max_length=64, unique=True)
    file_name = models.CharField(max_length=255, blank=True, help_text="The uploaded name, shown only.")
    size_bytes = models.PositiveBigIntegerField(default=0)
    encoding = models.CharField(max_length=8, blank=True, help_text="ascii or ebcdic")
    length_prefixed = models.BooleanField(default=False)
    items_total = models.PositiveIntegerField(default=0, help_text="Checks in the file (the validation pass).")
    items_read = models.PositiveIntegerField(default=0, help_text="Checks the run has reached.")
    amount_total_cents = models.PositiveBigIntegerField(default=0)
    returns_skipped = models.PositiveIntegerField(default=0)
    credits_skipped = models.PositiveIntegerField(default=0)
    totals_reconciled = models.BooleanField(default=False)
    discrepancies = models.JSONField(default=list, help_text="Control records whose totals differ from the items.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="clearing_files"
    )

    class Meta(ResumableRunModel.Meta):
        pass

    def __str__(self):
        return f"clearing file {self.pk} ({self.status}, {self.items_total} items)"


class ClearingItem(models.Model):
    """One check of a clearing file: its cheque decision, or why it could not be decided.

    Written once, with its decision, in one transaction: a row exists only for a finished item,
    and (file, key) is unique, so no run can decide an item twice.
    """

    class Status(models.TextChoices):
        DECIDED = "decided"
        FAILED = "failed"

    clearing_file = models.ForeignKey(ClearingFile, on_delete=models.CASCADE, related_name="items")
    key = models.CharField(max_length=40, help_text="The ECE item sequence number (#n added if the file repeats it).")
    index = models.PositiveIntegerField(help_text="Position among the file's checks, from 1.")
    record_number = models.PositiveIntegerField(help_text="Record number of its check detail (25).")
    sequence_number = models.CharField(max_length=15, blank=True)
    payor_routing = models.CharField(max_length=9, blank=True)
    on_us = models.CharField(max_length=20, blank=True)
    account_number = models.CharField(max_length=34, blank=True, db_index=True)
    amount_cents = models.PositiveBigIntegerField(null=True, blank=True)
    business_date = models.DateField(
        null=True, blank=True, help_text="Its bundle's business date: the cheque date its signatories are checked on."
    )
    status = models.CharField(max_length=12, choices=Status.choices, db_index=True)
    decision = models.CharField(max_length=8, blank=True, db_index=True, help_text="pay, refer or return.")
    cheque = models.OneToOneField(
        "mandates.ChequeDecision", null=True, blank=True, on_delete=models.PROTECT, related_name="clearing_item"
    )
    failure_code = models.CharField(max_length=64, blank=True)
    failure_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["clearing_file", "index"]
        constraints = [models.UniqueConstraint(fields=["clearing_file", "key"], name="clearing_item_unique_key")]

    def __str__(self):
        return f"item {self.key} of clearing file {self.clearing_file_id} ({self.decision or self.status})"
