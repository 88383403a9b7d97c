"""Core's one table: idempotency keys; and the fields every resumable run declares (an abstract base).
The health report reads other apps through their selectors."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from .jobs import ResumableRun, resumable_transitions


class ResumableRunModel(ResumableRun, models.Model):
    """The lifecycle fields of a resumable run (verification batches, clearing files): see
    ``apps.core.jobs``. Its items are kept when it stops; a run whose worker was lost is queued again."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    TERMINAL = (Status.DONE, Status.FAILED)
    TRANSITIONS = resumable_transitions(Status)
    STALE_ENDS = {Status.QUEUED: Q()}  # its finished items are kept: the sweep sends it again

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    error = models.TextField(blank=True, help_text="Why the run as a whole stopped (items have their own errors).")
    attempts = models.PositiveIntegerField(default=0, help_text="Runs started; a resumed run has more than one.")
    worker = models.CharField(max_length=200, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]


class IdempotencyKey(models.Model):
    """The first successful answer to a request sent with an ``Idempotency-Key`` header.

    Unique per (user, key): a retry of the same request gets this answer back instead of
    doing the work again (see ``apps.core.idempotency``).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="sha256 of the method, path and body.")
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="core_idempotencykey_unique_per_user")]

    def __str__(self):
        return f"idempotency key {self.key!r} of user {self.user_id}"
