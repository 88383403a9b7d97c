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


class Run:
    """What a run model (training job, promotion) adds to ``status``, ``heartbeat_at``,
    ``started_at``, ``finished_at`` and ``error``: how it ends when its worker goes silent.

    A subclass declares ``STALE_ENDS`` (end status -> ``Q`` choosing, among its stale rows,
    those that end so) and ``stale_end()`` (the same choice for one row), and ``stale_error(end)``.
    The sweep (``fail_stale``, run by Celery beat) writes that end; readers see it at once,
    without writing, through ``as_seen()`` and ``seen_status_filter()``.
    """

    STALE_ENDS: dict = {}

    def stale_end(self) -> str:
        raise NotImplementedError

    @classmethod
    def stale_error(cls, end) -> str:
        raise NotImplementedError

    def is_stale(self, cutoff: datetime | None = None) -> bool:
        last = self.heartbeat_at or self.started_at
        return self.status == self.Status.RUNNING and last is not None and last < (cutoff or stale_cutoff())

    def as_seen(self, now: datetime | None = None):
        """This row as readers see it: a running one whose worker went silent shows the end the
        sweep gives it (status, error, finished when it went stale). Changes only this object."""
        if self.is_stale(stale_cutoff(now)):
            end = self.stale_end()
            self.status, self.error = end, self.stale_error(end)
            self.finished_at = (self.heartbeat_at or self.started_at) + timedelta(
                seconds=settings.SIGVERIFY_STALE_AFTER_S
            )
        return self


def _stale_running(model, cutoff) -> Q:
    return Q(status=model.Status.RUNNING) & stale_filter(cutoff)


def seen_status_filter(model, status: str, now: datetime | None = None) -> Q:
    """Rows that readers see with ``status`` (``Run.as_seen``): stale running rows count as their end."""
    stale = _stale_running(model, stale_cutoff(now))
    if status == model.Status.RUNNING:
        return Q(status=status) & ~stale
    if status in model.STALE_ENDS:
        return Q(status=status) | (stale & model.STALE_ENDS[status])
    return Q(status=status)


def fail_stale(model, now: datetime | None = None) -> int:
    """Write their end to the running rows whose worker stopped sending heartbeats; how many."""
    now = now or timezone.now()
    stale = model.objects.filter(_stale_running(model, stale_cutoff(now)))
    ended = 0
    for end, condition in model.STALE_ENDS.items():
        ended += stale.filter(condition).update(status=end, finished_at=now, error=model.stale_error(end))
    if ended:
        logger.warning("marked stale: %s %s(s)", ended, model._meta.verbose_name)
    return ended
