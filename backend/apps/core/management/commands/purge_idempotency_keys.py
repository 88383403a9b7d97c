from django.conf import settings
from django.core.management.base import BaseCommand

from apps.core.idempotency import purge_expired_keys


class Command(BaseCommand):
    help = (
        "Delete the Idempotency-Key answers older than SIGVERIFY_IDEMPOTENCY_KEEP_HOURS (at least 24). "
        "Safe to run from cron."
    )

    def handle(self, *args, **options):
        deleted = purge_expired_keys()
        self.stdout.write(
            f"{deleted} idempotency key(s) older than {settings.SIGVERIFY_IDEMPOTENCY_KEEP_HOURS} h deleted"
        )
