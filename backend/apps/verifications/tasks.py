"""Celery tasks: thin wrappers that take primary keys and call the services.

As the styleguide has it, ``batches`` imports its task at module level and the task imports
``batches`` in its body, when it runs.

The batch task runs on the default queue, acknowledged late (a message redelivered after a
lost worker does no harm: finished items are skipped, see ``batches.run_batch``). The
batches a killed worker left behind are queued again when a worker of its name starts, and
by Celery beat's sweep once their worker has been silent for SIGVERIFY_STALE_AFTER_S.
"""

import logging

from celery import shared_task
from celery.signals import worker_ready

logger = logging.getLogger(__name__)


@shared_task(
    bind=True, name="apps.verifications.tasks.run_verification_batch", acks_late=True, reject_on_worker_lost=True
)
def run_verification_batch(self, batch_id: int) -> str:
    from . import batches

    return batches.run_batch(batch_id, worker=self.request.hostname or "")


@shared_task(name="apps.verifications.tasks.resume_stale_batches", ignore_result=True)
def resume_stale_batches() -> int:
    """Celery beat's sweep: batches whose worker went silent are queued again."""
    from . import batches

    return len(batches.recover_batches())


@worker_ready.connect(dispatch_uid="verifications.recover_batches")
def recover_batches_at_worker_start(sender=None, **_):
    from django.db import connections

    from . import batches

    try:
        batches.recover_batches(worker=getattr(sender, "hostname", "") or "")
    except Exception:
        logger.exception("could not recover verification batches at worker start")
    finally:
        connections.close_all()  # never hand an open connection to pool children forked later
