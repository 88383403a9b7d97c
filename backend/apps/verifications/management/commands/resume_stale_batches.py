from django.conf import settings
from django.core.management.base import BaseCommand

from apps.verifications.batches import recover_batches


class Command(BaseCommand):
    help = (
        "Queue again the verification batches whose worker stopped reporting (SIGVERIFY_STALE_AFTER_S) "
        "and those that never reached the broker. Finished items are kept. Safe to run from cron; "
        "Celery beat runs the same sweep every SIGVERIFY_STALE_SWEEP_S, and a worker does it when it starts."
    )

    def handle(self, *args, **options):
        resumed = recover_batches()
        self.stdout.write(
            f"stale after {settings.SIGVERIFY_STALE_AFTER_S:g} s: {len(resumed)} verification batch(es) queued again"
            + (f" ({', '.join(map(str, resumed))})" if resumed else "")
        )
