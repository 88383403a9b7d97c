from django.conf import settings
from django.db import models


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
    thresholds = models.JSONField(default=dict, help_text="The accept/reject thresholds used for the decision.")
    quality = models.JSONField(default=dict, blank=True)
    model_version = models.ForeignKey(
        "modelregistry.ModelVersion", on_delete=models.PROTECT, related_name="verifications"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="verifications"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processing_ms = models.PositiveIntegerField()

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

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"review of verification {self.verification_id}: {self.final_decision}"
