import numpy as np
from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

# External ids appear in URL paths (/signers/<external_id>/), so no slash, space, ?, # or %.
external_id_validator = RegexValidator(
    r"^[^/\s?#%]+$", "Use letters, digits and punctuation; no spaces, slashes, question marks, hashes or percent signs."
)


class Signer(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    external_id = models.CharField(
        max_length=64,
        unique=True,
        validators=[external_id_validator],
        help_text="The bank's own key for the signer, e.g. an account number.",
    )
    full_name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["external_id"]

    def __str__(self):
        return f"{self.external_id} ({self.full_name})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


def reference_upload_path(instance, filename):
    # Services pass "<sha256>.<ext>": no user-controlled name reaches the disk.
    return f"references/{instance.signer_id}/{filename}"


class ReferenceSignature(models.Model):
    class Source(models.TextChoices):
        SIGNATURE_CARD = "signature_card", "Signature card"
        CONFIRMED_CHEQUE = "confirmed_cheque", "Confirmed cheque"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active (used for verification)"
        PENDING_REVIEW = "pending_review", "Pending review (flagged, not used)"
        REJECTED = "rejected", "Rejected (not used)"

    signer = models.ForeignKey(Signer, on_delete=models.CASCADE, related_name="references")
    image = models.FileField(upload_to=reference_upload_path, max_length=300)
    sha256 = models.CharField(max_length=64)
    original_name = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    quality = models.JSONField(default=dict, blank=True, help_text="What preprocessing measured (ink, size, ...).")
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(
        max_length=20, choices=Source.choices, default=Source.SIGNATURE_CARD, help_text="Where the image came from."
    )
    # An id, not a foreign key: verifications sit a layer above signers (apps/README.md).
    source_verification_id = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="The verification whose confirmed genuine signature this is."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    flag = models.JSONField(
        default=dict,
        blank=True,
        help_text='Why it waits for a person, e.g. {"code": "inconsistent_reference", "score": 0.02, ...}.',
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["signer_id", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["signer", "sha256"], name="unique_reference_per_signer"),
        ]

    def __str__(self):
        return f"reference {self.pk} of {self.signer.external_id}"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class ReferenceEmbedding(models.Model):
    """A reference's embedding under one model version (float32 bytes), so a verification
    costs one forward pass and a rollback finds the older version's vectors still there."""

    reference = models.ForeignKey(ReferenceSignature, on_delete=models.CASCADE, related_name="embeddings")
    model_version = models.ForeignKey(
        "modelregistry.ModelVersion", on_delete=models.CASCADE, related_name="reference_embeddings"
    )
    vector = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["reference", "model_version"], name="unique_embedding_per_version"),
        ]

    def __str__(self):
        return f"embedding of reference {self.reference_id} by version {self.model_version_id}"

    def as_array(self) -> np.ndarray:
        return np.frombuffer(bytes(self.vector), dtype=np.float32)

    @staticmethod
    def to_bytes(vector) -> bytes:
        return np.asarray(vector, dtype=np.float32).tobytes()


class SignerClassifier(models.Model):
    """A signer's own classifier (``sigverify.writer_dependent``) under one model version, fitted on the
    signer's active references (``reference_ids``) against a background of other people's signatures.

    Used only while ``reference_ids`` are the signer's active references; ``classifier`` is empty when
    none could be fitted (``note`` says why)."""

    signer = models.ForeignKey(Signer, on_delete=models.CASCADE, related_name="classifiers")
    model_version = models.ForeignKey(
        "modelregistry.ModelVersion", on_delete=models.CASCADE, related_name="signer_classifiers"
    )
    reference_ids = models.JSONField(default=list, help_text="The active references it was fitted on, sorted.")
    classifier = models.JSONField(default=dict, blank=True, help_text="SignerClassifier.to_dict(); {} when none.")
    note = models.CharField(max_length=200, blank=True)
    fitted_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["signer", "model_version"], name="one_classifier_per_signer_and_version"),
        ]

    def __str__(self):
        return f"classifier of {self.signer_id} under version {self.model_version_id}"
