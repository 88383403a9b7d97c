"""Queue again the batches a killed worker left behind: when a worker of its name starts, and
from Celery beat's sweep once their worker has been silent for SIGVERIFY_STALE_AFTER_S.

Both queue the batch task through ``batches``, so they sit above it, apart from ``tasks``
(which ``batches`` imports). ``VerificationsConfig.ready()`` imports this module, so every
process that sets up Django (the worker included) registers the task and the hook.
"""

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import connections

from . import batches

logger = logging.getLogger(__name__)


@shared_task(name="apps.verifications.recovery.resume_stale_batches", ignore_result=True)
def resume_stale_batches() -> int:
    """Celery beat's sweep: batches whose worker went silent are queued again."""
    return len(batches.recover_batches())


@worker_ready.connect(dispatch_uid="verifications.recover_batches")
def recover_batches_at_worker_start(sender=None, **_):
    try:
        batches.recover_batches(worker=getattr(sender, "hostname", "") or "")
    except Exception:
        logger.exception("could not recover verification batches at worker start")
    finally:
        connections.close_all()  # never hand an open connection to pool children forked later
