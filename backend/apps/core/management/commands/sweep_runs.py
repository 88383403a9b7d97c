from django.conf import settings
from django.core.management.base import BaseCommand

from apps.core import jobs


class Command(BaseCommand):
    help = (
        "The recovery sweep of every kind of background run (training jobs, promotions, verification batches): "
        "runs whose worker stopped sending heartbeats for SIGVERIFY_STALE_AFTER_S get their stale end (failed, "
        "cancelled, or queued again where a run can resume), and queued runs with no message are sent again. "
        "Celery beat runs the same sweep every SIGVERIFY_STALE_SWEEP_S, and each worker at start."
    )

    def handle(self, *args, **options):
        swept = jobs.sweep()
        counts = ", ".join(f"{len(pks)} {model._meta.verbose_name}(s)" for model, pks in swept.items())
        self.stdout.write(f"stale after {settings.SIGVERIFY_STALE_AFTER_S:g} s: {counts}")
