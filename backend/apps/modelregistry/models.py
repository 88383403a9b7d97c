from functools import cached_property

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.jobs import Run, stale_message
from sigverify.card import ModelCard, Thresholds
from sigverify.policy import DEFAULT_TARGET


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
    thresholds = models.JSONField(
        default=dict, blank=True, help_text='The thresholds in force: {"eer": ..., "accept": ..., "reject": ...}'
    )
    # The operating policy: the thresholds above follow from it (see apps.modelregistry.services.policy_set).
    policy_far_skilled = models.FloatField(
        default=DEFAULT_TARGET, help_text="Share of skilled forgeries that may be accepted (0.001-0.05)."
    )
    policy_frr = models.FloatField(
        default=DEFAULT_TARGET, help_text="Share of genuine signatures that may be rejected (0.001-0.05)."
    )
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_model_version"),
        ]
        permissions = [("change_operating_policy", "Can change the operating policy (and so the thresholds)")]

    def __str__(self):
        return f"{self.name}{' (active)' if self.is_active else ''}"

    @cached_property
    def model_card(self) -> ModelCard:
        """The registered card, typed (``CardError`` if a row was given one that does not fit)."""
        return ModelCard.parse(self.card, source=f"the card of model version {self.name}")

    @property
    def input_size(self) -> tuple[int, int]:
        return self.model_card.size

    @property
    def operating_thresholds(self) -> Thresholds:
        """``thresholds`` typed: accept, reject and eer are required, never defaulted."""
        return Thresholds.model_validate(self.thresholds)

    @property
    def accept_threshold(self) -> float:
        return self.operating_thresholds.accept

    @property
    def reject_threshold(self) -> float:
        return self.operating_thresholds.reject


class Promotion(Run, models.Model):
    """Preparing a version for service (re-embedding every reference), then making it the active one."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    TERMINAL = (Status.SUCCEEDED, Status.FAILED)
    # target status -> statuses it may be reached from (see apps.core.jobs.transition)
    TRANSITIONS = {
        Status.RUNNING: (Status.QUEUED,),
        Status.SUCCEEDED: (Status.RUNNING,),
        Status.FAILED: (Status.QUEUED, Status.RUNNING),
    }
    STALE_ENDS = {Status.FAILED: Q()}  # a promotion whose worker went silent fails

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="promotions")
    previous_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="promotions"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    total = models.PositiveIntegerField(default=0, help_text="References to embed with this version.")
    done = models.PositiveIntegerField(default=0, help_text="References that have an embedding.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"promotion {self.pk} of {self.model_version_id} ({self.status})"

    def stale_end(self) -> str:
        return self.Status.FAILED

    @classmethod
    def stale_error(cls, end) -> str:
        return stale_message("the active version was not changed")


class PolicyChange(models.Model):
    """One change of a version's operating policy: who, when, why, and the old and new targets and thresholds.

    Rows are written by ``services.policy_set`` only and never changed afterwards.
    """

    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="policy_changes")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    reason = models.TextField()
    old_far_skilled = models.FloatField()
    old_frr = models.FloatField()
    old_thresholds = models.JSONField(default=dict)
    new_far_skilled = models.FloatField()
    new_frr = models.FloatField()
    new_thresholds = models.JSONField(default=dict)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self):
        return (
            f"{self.model_version.name}: forgeries accepted {self.old_far_skilled:.2%} -> {self.new_far_skilled:.2%}, "
            f"genuine rejected {self.old_frr:.2%} -> {self.new_frr:.2%}"
        )
