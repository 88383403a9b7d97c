"""Celery tasks: thin wrappers that take primary keys and call the services.

Both are idempotent (a finished or already-running job is skipped) and acknowledged late,
so a message redelivered after a lost worker does no harm. Routing: settings.CELERY_TASK_ROUTES
sends training to the GPU queue; promotion (re-embedding) goes to the default queue.
"""

from celery import shared_task
from django.conf import settings

from . import services


@shared_task(
    bind=True,
    name="apps.training.tasks.run_training_job",
    acks_late=True,
    time_limit=settings.SIGVERIFY_TRAINING_TIME_LIMIT_S,
    soft_time_limit=max(60, settings.SIGVERIFY_TRAINING_TIME_LIMIT_S - 300),
)
def run_training_job(self, job_id: int) -> str:
    return services.run_training_job(job_id, worker=self.request.hostname or "")


@shared_task(name="apps.training.tasks.run_promotion", acks_late=True)
def run_promotion(promotion_id: int) -> str:
    return services.run_promotion(promotion_id)
