"""Celery tasks of verifications: thin wrappers that take primary keys.

``batches`` imports this module at module level to queue the task; the task calls the worker
code in ``batch_runs``, which imports neither, so the imports run one way:
batches -> tasks -> batch_runs.

The batch task runs on the default queue, acknowledged late (a message redelivered after a
lost worker does no harm: finished items are skipped, see ``batch_runs.run_batch``).
The queueing-again of batches a killed worker left behind lives in ``recovery``.
"""

from celery import shared_task

from . import batch_runs


@shared_task(
    bind=True, name="apps.verifications.tasks.run_verification_batch", acks_late=True, reject_on_worker_lost=True
)
def run_verification_batch(self, batch_id: int) -> str:
    return batch_runs.run_batch(batch_id, worker=self.request.hostname or "")
