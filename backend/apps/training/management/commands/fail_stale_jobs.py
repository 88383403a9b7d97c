from django.conf import settings
from django.core.management.base import BaseCommand

from apps.modelregistry.services import fail_stale_promotions
from apps.training.services import fail_stale_jobs


class Command(BaseCommand):
    help = (
        "Mark failed the training jobs and promotions whose worker stopped sending heartbeats "
        "(SIGVERIFY_STALE_AFTER_S). Celery beat runs the same sweep every SIGVERIFY_STALE_SWEEP_S; "
        "the API shows such runs as ended before either writes it."
    )

    def handle(self, *args, **options):
        jobs, promotions = fail_stale_jobs(), fail_stale_promotions()
        self.stdout.write(
            f"stale after {settings.SIGVERIFY_STALE_AFTER_S:g} s: {jobs} training job(s) and "
            f"{promotions} promotion(s) marked failed"
        )
