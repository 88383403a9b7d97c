from django.db import models
from django.db.models import Q


class ModelVersion(models.Model):
    """A trained model on disk (safetensors + card) that the service can serve.

    At most one row is active (a conditional unique constraint); the active one is what
    verification and enrollment use.
    """

    name = models.CharField(max_length=120, unique=True)
    weights_path = models.CharField(max_length=500, help_text="Model directory (model.safetensors + model_card.json).")
    sha256 = models.CharField(max_length=64, db_index=True)
    card = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    thresholds = models.JSONField(default=dict, blank=True, help_text='{"eer": ..., "accept": ..., "reject": ...}')
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_model_version"),
        ]

    def __str__(self):
        return f"{self.name}{' (active)' if self.is_active else ''}"

    @property
    def input_size(self) -> tuple[int, int]:
        height, width = self.card.get("input_size", (128, 192))
        return int(height), int(width)

    @property
    def accept_threshold(self) -> float:
        return float(self.thresholds.get("accept", 0.5))

    @property
    def reject_threshold(self) -> float:
        return float(self.thresholds.get("reject", 0.5))
