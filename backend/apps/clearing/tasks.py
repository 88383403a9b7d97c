"""Celery tasks of clearing: thin wrappers that take primary keys (services -> tasks -> runs).

Acknowledged late: a message redelivered after a lost worker does no harm, since finished
items are skipped (see ``runs.run_clearing_file``)."""

from celery import shared_task

from . import runs


@shared_task(bind=True, name="apps.clearing.tasks.run_clearing_file", acks_late=True, reject_on_worker_lost=True)
def run_clearing_file(self, clearing_file_id: int) -> str:
    return runs.run_clearing_file(clearing_file_id, worker=self.request.hostname or "")
