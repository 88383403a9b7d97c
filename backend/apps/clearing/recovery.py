"""Queue again the clearing runs a killed worker left behind: when a worker of its name starts,
and from Celery beat's sweep once their worker has been silent for SIGVERIFY_STALE_AFTER_S.
``ClearingConfig.ready()`` imports this module, so every process registers the task and the hook."""

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import connections

from . import services

logger = logging.getLogger(__name__)


@shared_task(name="apps.clearing.recovery.resume_stale_clearing_files", ignore_result=True)
def resume_stale_clearing_files() -> int:
    return len(services.recover_clearing_files())


@worker_ready.connect(dispatch_uid="clearing.recover_clearing_files")
def recover_at_worker_start(sender=None, **_):
    try:
        services.recover_clearing_files(worker=getattr(sender, "hostname", "") or "")
    except Exception:
        logger.exception("could not recover clearing files at worker start")
    finally:
        connections.close_all()  # never hand an open connection to pool children forked later
