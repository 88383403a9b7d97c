"""Background runs recorded as rows (training jobs, promotions): status changes, queueing.

A run's model declares ``Status``, ``TRANSITIONS`` (target status -> statuses it may be
reached from) and ``TERMINAL``. Every status change is a conditional UPDATE (``UPDATE ...
WHERE status IN``): the worker, a cancel request and the stale-heartbeat sweep can race,
and exactly one of them wins.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from .exceptions import ServiceUnavailable

logger = logging.getLogger(__name__)


class BrokerUnavailable(ServiceUnavailable):
    default_code = "broker_unavailable"
    default_message = (
        "The task queue is not reachable, so the job was not started (it is recorded as failed). "
        "Try again later, or ask an administrator to check the broker (Redis) and the workers."
    )


def transition(model, pk, to, **changes) -> bool:
    """Move a row to status ``to`` if its current status allows it. True if this call did it."""
    allowed = model.TRANSITIONS[to]
    return bool(model.objects.filter(pk=pk, status__in=allowed).update(status=to, **changes))


def finish(model, pk, to, **changes) -> bool:
    """``transition`` to an end status, stamping ``finished_at``."""
    return transition(model, pk, to, finished_at=timezone.now(), **changes)


def enqueue(task, model, pk, queue) -> None:
    """Send ``task(pk)`` to ``queue`` and keep its id on the row (call it from ``on_commit``).

    If the broker refuses it, the row is finished as failed and ``BrokerUnavailable`` raised,
    so a run is never left queued with no message behind it.
    """
    try:
        result = task.apply_async(args=[pk], queue=queue)
    except Exception as exc:  # kombu raises OperationalError, ConnectionError, OSError... by transport
        logger.error("cannot enqueue %s %s: %s", model.__name__, pk, exc)
        finish(model, pk, model.Status.FAILED, error=f"not started: the task queue is unreachable ({exc})")
        raise BrokerUnavailable() from exc
    model.objects.filter(pk=pk).update(task_id=result.id or "")


def stale_cutoff(now: datetime | None = None) -> datetime:
    """A running row whose last sign of life is older than this has lost its worker."""
    return (now or timezone.now()) - timedelta(seconds=settings.SIGVERIFY_STALE_AFTER_S)


def stale_filter(cutoff: datetime) -> Q:
    """Rows (of any status) whose last heartbeat, or start when none came, is before ``cutoff``."""
    return Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)


def stale_message(outcome: str) -> str:
    return (
        f"the worker stopped reporting (no heartbeat for {settings.SIGVERIFY_STALE_AFTER_S:g} s): "
        f"it was probably killed or lost; {outcome}"
    )
