"""Core's one table: idempotency keys. The health report reads other apps through their selectors."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


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
