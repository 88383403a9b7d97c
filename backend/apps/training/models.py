"""Training jobs: records that the web side creates and the GPU workers update.

Status changes go through ``apps.core.jobs.transition`` as conditional updates (``UPDATE ...
WHERE status IN``) so a worker and the stale-heartbeat sweep can never both win.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.jobs import Run, stale_message


class TrainingJob(Run, models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
    # target status -> statuses it may be reached from
    TRANSITIONS = {
        Status.RUNNING: (Status.QUEUED,),
        Status.SUCCEEDED: (Status.RUNNING,),
        Status.FAILED: (Status.QUEUED, Status.RUNNING),
        Status.CANCELLED: (Status.QUEUED, Status.RUNNING),
    }
    # A job whose worker went silent ends cancelled if it was asked to stop, else failed.
    STALE_ENDS = {Status.CANCELLED: Q(cancel_requested=True), Status.FAILED: Q(cancel_requested=False)}

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="training_jobs"
    )
    # Parameters
    datasets = models.JSONField(default=list, blank=True, help_text="Names of folders in organized_data/.")
    include_references = models.BooleanField(default=True, help_text="Add enrolled reference signatures.")
    include_reviewed = models.BooleanField(default=True, help_text="Add human-reviewed verifications.")
    epochs = models.PositiveIntegerField()
    loss = models.CharField(max_length=40)
    seed = models.IntegerField(default=0)
    options = models.JSONField(default=dict, blank=True, help_text="Other `sigverify train` options.")
    # State
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    cancel_requested = models.BooleanField(default=False)
    epoch = models.PositiveIntegerField(default=0)
    current_loss = models.FloatField(null=True, blank=True)
    val_eer = models.FloatField(null=True, blank=True)
    images_per_s = models.FloatField(null=True, blank=True)
    history = models.JSONField(default=list, blank=True, help_text="One progress record per report.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    log_tail = models.TextField(blank=True)
    data_summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    model_version = models.ForeignKey(
        "modelregistry.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="training_jobs"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"training job {self.pk} ({self.status})"

    def stale_end(self) -> str:
        return self.Status.CANCELLED if self.cancel_requested else self.Status.FAILED

    @classmethod
    def stale_error(cls, end) -> str:
        message = stale_message("no model was registered")
        return "cancelled; " + message if end == cls.Status.CANCELLED else message
