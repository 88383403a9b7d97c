"""Celery tasks of training: thin wrappers that take primary keys and call the job code in ``runs``.

``TrainingConfig.ready()`` registers the task with ``apps.core.jobs`` (which queues it and sweeps
the jobs whose worker was lost), so no import runs in a cycle. ``run_training_job`` is idempotent (a
finished or already-running job is skipped) and acknowledged late, so a message redelivered
after a lost worker does no harm. settings.CELERY_TASK_ROUTES sends it to the GPU queue.
"""

from celery import shared_task
from django.conf import settings

from . import runs


@shared_task(
    bind=True,
    name="apps.training.tasks.run_training_job",
    acks_late=True,
    time_limit=settings.SIGVERIFY_TRAINING_TIME_LIMIT_S,
    soft_time_limit=max(60, settings.SIGVERIFY_TRAINING_TIME_LIMIT_S - 300),
)
def run_training_job(self, job_id: int) -> str:
    return runs.run_training_job(job_id, worker=self.request.hostname or "")
