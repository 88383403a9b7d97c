"""Celery tasks of verifications: thin wrappers that take primary keys.

``VerificationsConfig.ready()`` registers the batch task with ``apps.core.jobs``, which queues
it (default queue) and sends again the batches a lost worker left behind; the task calls the
worker code in ``batch_runs``. It is acknowledged late (a message redelivered after a lost
worker does no harm: finished items are skipped, see ``batch_runs.run_batch``).
"""

from celery import shared_task

from . import batch_runs


@shared_task(
    bind=True, name="apps.verifications.tasks.run_verification_batch", acks_late=True, reject_on_worker_lost=True
)
def run_verification_batch(self, batch_id: int) -> str:
    return batch_runs.run_batch(batch_id, worker=self.request.hostname or "")
