from django.conf import settings
from django.core.management.base import BaseCommand

from apps.verifications.batches import recover_batches


class Command(BaseCommand):
    help = (
        "Queue again the verification batches whose worker stopped reporting (SIGVERIFY_STALE_AFTER_S) "
        "and those that never reached the broker. Finished items are kept. Safe to run from cron; "
        "every worker also does this when it starts."
    )

    def handle(self, *args, **options):
        resumed = recover_batches()
        self.stdout.write(
            f"stale after {settings.SIGVERIFY_STALE_AFTER_S:g} s: {len(resumed)} verification batch(es) queued again"
            + (f" ({', '.join(map(str, resumed))})" if resumed else "")
        )
