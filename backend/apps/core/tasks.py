"""Celery tasks of core: the one recovery sweep of every registered kind of background run
(``jobs.sweep``), run by Celery beat, and the same sweep when a worker starts (the runs still
marked as running on a worker of its name were lost with the earlier process).

``CoreConfig.ready()`` imports this module, so every process that sets up Django (the worker
included) registers the task and the hook.
"""

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import connections

from . import jobs

logger = logging.getLogger(__name__)


@shared_task(name="apps.core.tasks.sweep_runs", ignore_result=True)
def sweep_runs() -> int:
    """Runs whose worker went silent get their stale end; queued runs with no message are sent again."""
    return sum(len(pks) for pks in jobs.sweep().values())


@worker_ready.connect(dispatch_uid="core.sweep_runs_at_worker_start")
def sweep_runs_at_worker_start(sender=None, **_):
    try:
        jobs.sweep(worker=getattr(sender, "hostname", "") or "")
    except Exception:
        logger.exception("could not recover the runs a dead worker left behind")
    finally:
        connections.close_all()  # never hand an open connection to pool children forked later
