from django.conf import settings
from django.db import models

from apps.core.models import ResumableRunModel


class ImmutableRecordError(Exception):
    """Raised when code tries to change or delete an audit record."""


class VerificationQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ImmutableRecordError("verifications are an audit log and cannot be updated")

    def delete(self):
        raise ImmutableRecordError("verifications are an audit log and cannot be deleted")


class Decision(models.TextChoices):
    GENUINE = "genuine", "Genuine"
    REFER = "refer", "Refer to a supervisor"
    FORGERY = "forgery", "Forgery"


def verification_upload_path(instance, filename):
    # Services pass "<sha256>.<ext>": no user-controlled name reaches the disk.
    return f"verifications/{instance.created_day}/{filename}"


class Verification(models.Model):
    """One verification request and the model's answer: an append-only audit record."""

    signer = models.ForeignKey("signers.Signer", on_delete=models.PROTECT, related_name="verifications")
    image = models.FileField(upload_to=verification_upload_path, max_length=300)
    image_sha256 = models.CharField(max_length=64, db_index=True)
    crop = models.JSONField(null=True, blank=True, help_text="[x, y, width, height] of the signature box, if sent.")
    cheque_reference = models.CharField(max_length=100, blank=True, db_index=True)
    score = models.FloatField()
    z_score = models.FloatField(null=True, blank=True)
    distances = models.JSONField(default=list, help_text='[{"reference": id, "distance": d}, ...]')
    decision = models.CharField(max_length=16, choices=Decision.choices, db_index=True)
    reason = models.JSONField(
        null=True,
        blank=True,
        help_text='Why the decision is not the score\'s: {"code": "image_quality", "checks": [...], "message": ...} '
        "when the image failed a quality check; null otherwise.",
    )
    thresholds = models.JSONField(default=dict, help_text="The accept/reject thresholds used for the decision.")
    reference_count = models.PositiveSmallIntegerField(
        default=0, help_text="R: how many references the questioned signature was compared with."
    )
    scoring = models.CharField(
        max_length=32,
        blank=True,
        help_text="How the score was made: signer_classifier (the signer's own classifier fused in), "
        "writer_independent (the version fuses none), writer_independent_pending (the version fuses one, "
        "but its refit on the current references had not run yet: distances only). Empty before this was kept.",
    )
    quality = models.JSONField(default=dict, blank=True)
    model_version = models.ForeignKey(
        "modelregistry.ModelVersion", on_delete=models.PROTECT, related_name="verifications"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="verifications"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processing_ms = models.PositiveIntegerField()
    batch = models.ForeignKey(
        "VerificationBatch",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="verifications",
        help_text="The batch this verification was part of, if any.",
    )

    objects = VerificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"verification {self.pk}: {self.decision}"

    @property
    def created_day(self) -> str:
        from django.utils import timezone

        return (self.created_at or timezone.now()).strftime("%Y/%m/%d")

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableRecordError("verifications are an audit log and cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRecordError("verifications are an audit log and cannot be deleted")


class Review(models.Model):
    """A human's final call on a verification; the model's answer is left as it was."""

    class FinalDecision(models.TextChoices):
        GENUINE = "genuine", "Genuine"
        FORGERY = "forgery", "Forgery"

    verification = models.OneToOneField(Verification, on_delete=models.PROTECT, related_name="review")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    final_decision = models.CharField(max_length=16, choices=FinalDecision.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    reference_growth = models.JSONField(
        default=dict,
        blank=True,
        help_text='After a genuine call: whether the signature joined the references, e.g. {"added": true, '
        '"reference": 12} or {"added": false, "code": "policy_off", "message": "..."}.',
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"review of verification {self.verification_id}: {self.final_decision}"


def batch_item_upload_path(instance, filename):
    # Services pass "<index>-<sha256>.<ext>": no user-controlled name reaches the disk.
    return f"batches/{instance.batch_id}/{filename}"


class VerificationBatch(ResumableRunModel):
    """Up to a few hundred verifications sent together, verified on a worker.

    The items' images are stored with the batch before it is accepted; the worker verifies
    them a chunk at a time with ``services.verification_create``'s steps, one forward pass per
    chunk (see ``batch_runs.run_batch``). A batch
    resumes: one whose worker was lost is queued again, and only its pending items are run.
    """

    RUN_NOUN = "batch"

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="verification_batches"
    )
    total = models.PositiveIntegerField(help_text="Items in the batch.")

    class Meta(ResumableRunModel.Meta):
        pass

    def __str__(self):
        return f"verification batch {self.pk} ({self.status}, {self.total} items)"


class BatchItem(models.Model):
    """One item of a batch: what was sent, and its verification or its error."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    batch = models.ForeignKey(VerificationBatch, on_delete=models.CASCADE, related_name="items")
    index = models.PositiveIntegerField(help_text="Position in the request, from 0.")
    signer_key = models.CharField(max_length=64, help_text="Signer id or external id, as sent.")
    image = models.FileField(upload_to=batch_item_upload_path, max_length=300, blank=True)
    image_sha256 = models.CharField(max_length=64, blank=True)
    crop = models.JSONField(null=True, blank=True)
    cheque_reference = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)
    verification = models.OneToOneField(
        Verification, null=True, blank=True, on_delete=models.PROTECT, related_name="batch_item"
    )
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["batch", "index"]
        constraints = [models.UniqueConstraint(fields=["batch", "index"], name="verifications_batchitem_unique_index")]

    def __str__(self):
        return f"item {self.index} of batch {self.batch_id} ({self.status})"
