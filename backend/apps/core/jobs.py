"""One lifecycle for every background run (training jobs, promotions, verification batches, and
any new kind): status changes, queueing, staleness and the recovery sweep.

A run's model mixes in ``Run`` and declares ``Status`` (with ``QUEUED``, ``RUNNING`` and
``FAILED``), ``TRANSITIONS`` (target status -> statuses it may be reached from), ``TERMINAL``,
``STALE_ENDS`` and ``stale_error``; its app registers it with its Celery task in
``AppConfig.ready()`` (``register_run``). Every status change is a conditional UPDATE
(``UPDATE ... WHERE status IN``): the worker, a cancel request and the sweep can race, and
exactly one of them wins.

One staleness rule: a running run whose last heartbeat (or start, when none came) is older than
``SIGVERIFY_STALE_AFTER_S`` has lost its worker, as has one still running on a worker of the
same name that is starting again. One sweep (``sweep``: Celery beat every
``SIGVERIFY_STALE_SWEEP_S``, each worker at start, ``manage.py sweep_runs``) gives every such
run its stale end, and sends again the queued runs that have no message behind them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from .exceptions import Conflict, ServiceUnavailable

logger = logging.getLogger(__name__)


class BrokerUnavailable(ServiceUnavailable):
    default_code = "broker_unavailable"
    default_message = (
        "The task queue is not reachable, so the job was not started (it is recorded as failed). "
        "Try again later, or ask an administrator to check the broker (Redis) and the workers."
    )


class Run:
    """What a run model adds to its ``status``, ``task_id``, ``heartbeat_at``, ``started_at``,
    ``finished_at`` and ``error`` fields (and ``worker``, where it records one).

    - ``STALE_ENDS``: end status -> ``Q`` choosing, among its stale rows, those that end so. An
      end of ``Status.QUEUED`` makes the run resumable: the sweep sends it again, and the worker
      skips what the lost one finished.
    - ``stale_end()``: the same choice for one row; ``stale_error(end)``: the error it gets.
    - ``KEEP_WHEN_BROKER_DOWN``: False, a run the broker refuses fails at once and the caller
      gets ``BrokerUnavailable`` (503); True, it stays queued and the sweep sends it later.

    Readers see a stale run's end at once, without writing, through ``as_seen()`` and
    ``seen_status_filter()``.
    """

    STALE_ENDS: dict = {}
    KEEP_WHEN_BROKER_DOWN = False

    def stale_end(self) -> str:
        raise NotImplementedError

    @classmethod
    def stale_error(cls, end) -> str:
        raise NotImplementedError

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL

    def is_stale(self, cutoff: datetime | None = None) -> bool:
        last = self.heartbeat_at or self.started_at
        return self.status == self.Status.RUNNING and last is not None and last < (cutoff or stale_cutoff())

    def as_seen(self, now: datetime | None = None):
        """This row as readers see it: a running one whose worker went silent shows the end the
        sweep gives it (status, error, finished when it went stale). Changes only this object."""
        if self.is_stale(stale_cutoff(now)):
            end = self.stale_end()
            self.status, self.error = end, self.stale_error(end)
            if end in self.TERMINAL:
                self.finished_at = (self.heartbeat_at or self.started_at) + timedelta(
                    seconds=settings.SIGVERIFY_STALE_AFTER_S
                )
        return self


class ResumableRun(Run):
    """A run that resumes where it stopped (verification batches, clearing files): its finished
    items are kept, a lost worker's run is queued again, and one the broker refused waits for it.
    The model sets ``TERMINAL``, ``TRANSITIONS = resumable_transitions(Status)`` and
    ``STALE_ENDS = {Status.QUEUED: Q()}``; its ``Status`` has ``DONE``."""

    KEEP_WHEN_BROKER_DOWN = True
    RUN_NOUN = "run"  # in messages: "resume the run once this is fixed"

    def stale_end(self) -> str:
        return self.Status.QUEUED

    @classmethod
    def stale_error(cls, end) -> str:
        return stale_message("queued again: its finished items are kept, the others run on the next worker")


def resumable_transitions(status) -> dict:
    """Running from queued, ended from running, and queued again from failed (resumed) or queued."""
    return {
        status.QUEUED: (status.QUEUED, status.FAILED),
        status.RUNNING: (status.QUEUED,),
        status.DONE: (status.RUNNING,),
        status.FAILED: (status.RUNNING,),
    }


# --- resumable runs: the worker's side (claim, heartbeat, stop) and the web side (resume) ------------


class TakenOver(Exception):
    """Another run of the same row owns it now (this one was thought dead, and resumed)."""


class RunStopped(Exception):
    """Raised by a run's body: the run as a whole cannot go on (it stops ``failed``, resumable)."""


def claim(model, pk, worker: str = "") -> int | None:
    """Take a queued run, or a stale one, for this worker: its attempt number, or None when it is
    neither (done, failed, or running on a live worker)."""
    now = timezone.now()
    claimed = model.objects.filter(Q(status=model.Status.QUEUED) | stale_running(model), pk=pk).update(
        status=model.Status.RUNNING,
        attempts=F("attempts") + 1,
        heartbeat_at=now,
        started_at=Coalesce("started_at", now),
        worker=worker[:200],
        error="",
    )
    return model.objects.values_list("attempts", flat=True).get(pk=pk) if claimed else None


def owned(model, pk, attempt: int):
    """The row, while this attempt is still the one running it."""
    return model.objects.filter(pk=pk, status=model.Status.RUNNING, attempts=attempt)


def beat(model, pk, attempt: int, **changes) -> None:
    """The heartbeat (with any progress ``changes``); ``TakenOver`` when another attempt owns the run."""
    if not owned(model, pk, attempt).update(heartbeat_at=timezone.now(), **changes):
        raise TakenOver()


def _stop_failed(model, pk, attempt: int, reason: str) -> None:
    try:
        owned(model, pk, attempt).update(
            status=model.Status.FAILED,
            finished_at=timezone.now(),
            error=f"{reason} The finished items are kept; resume the {model.RUN_NOUN} once this is fixed.",
        )
    except DatabaseError:
        logger.exception(
            "%s %s: could not record the failure; it is resumable once stale", model._meta.verbose_name, pk
        )


def run_resumable(model, pk, worker: str, body: Callable[[int], dict | None]) -> str:
    """The frame of a resumable run's task: claim the row, call ``body(attempt)`` (which skips what is
    finished and calls ``beat`` per item), then mark it done with the changes ``body`` returns.

    Returns "done", "failed", "taken over" or "skipped (<status>)". ``ServiceUnavailable`` (no model
    can serve: every item would fail alike), ``RunStopped`` and any other error (the database or the
    storage went away, a bug) stop the run ``failed``, its finished items kept, resumable."""
    noun = model._meta.verbose_name
    attempt = claim(model, pk, worker)
    if attempt is None:
        current = model.objects.filter(pk=pk).values_list("status", flat=True).first()
        logger.info("%s %s not started: status is %s", noun, pk, current)
        return f"skipped ({current})"
    try:
        changes = body(attempt) or {}
    except TakenOver:
        logger.warning("%s %s: another run took it over; this one stops", noun, pk)
        return "taken over"
    except (ServiceUnavailable, RunStopped) as exc:
        _stop_failed(model, pk, attempt, getattr(exc, "message", None) or str(exc))
        return "failed"
    except Exception as exc:
        logger.exception("%s %s failed", noun, pk)
        _stop_failed(model, pk, attempt, f"{type(exc).__name__}: {exc}")
        return "failed"
    now = timezone.now()
    done = owned(model, pk, attempt).update(status=model.Status.DONE, finished_at=now, heartbeat_at=now, **changes)
    return "done" if done else "taken over"


def resume(row, *, done_code: str, running_code: str):
    """Queue a resumable run again: one that failed, one still queued (its message may be lost) or one
    whose worker stopped reporting. Its finished items are kept; only the others run. ``Conflict``
    (409, ``done_code`` or ``running_code``) when it is done or running on a live worker."""
    model = type(row)
    resumable = Q(status__in=(model.Status.QUEUED, model.Status.FAILED)) | stale_running(model)
    if model.objects.filter(resumable, pk=row.pk).update(status=model.Status.QUEUED, finished_at=None):
        transaction.on_commit(partial(enqueue, model, row.pk))
        row.refresh_from_db()
        return row
    row.refresh_from_db()
    title = f"{model._meta.verbose_name.capitalize()} {row.pk}"
    if row.status == model.Status.DONE:
        raise Conflict(f"{title} is done; there is nothing to resume.", code=done_code)
    raise Conflict(
        f"{title} is running on {row.worker or 'a worker'}, which reported "
        f"{(timezone.now() - row.heartbeat_at).total_seconds():.0f} s ago. It can be resumed once its "
        f"worker has been silent for {settings.SIGVERIFY_STALE_AFTER_S:g} s.",
        code=running_code,
    )


@dataclass(frozen=True)
class RunKind:
    model: type
    task: object  # the Celery task that takes the row's primary key
    queue_setting: str  # the name of the setting that names its queue (read when sending)


_kinds: dict[type, RunKind] = {}


def register_run(model: type, task, queue_setting: str) -> None:
    """Declare a run model, its task and its queue; call it from the app's ``AppConfig.ready()``."""
    _kinds[model] = RunKind(model, task, queue_setting)


def run_kinds() -> list[RunKind]:
    return list(_kinds.values())


# --- status changes -----------------------------------------------------------------------


def transition(model, pk, to, **changes) -> bool:
    """Move a row to status ``to`` if its current status allows it. True if this call did it."""
    allowed = model.TRANSITIONS[to]
    return bool(model.objects.filter(pk=pk, status__in=allowed).update(status=to, **changes))


def finish(model, pk, to, **changes) -> bool:
    """``transition`` to an end status, stamping ``finished_at``."""
    return transition(model, pk, to, finished_at=timezone.now(), **changes)


def enqueue(model, pk) -> bool:
    """Send the run's task for ``pk`` to its queue and keep the message id on the row (call it
    from ``on_commit``). True if sent.

    If the broker refuses it, the run either fails at once and ``BrokerUnavailable`` is raised,
    or (``KEEP_WHEN_BROKER_DOWN``) stays queued without a message, which the sweep sends later:
    a run is never left queued with nothing that will start it.
    """
    kind = _kinds[model]
    try:
        result = kind.task.apply_async(args=[pk], queue=getattr(settings, kind.queue_setting))
    except Exception as exc:  # kombu raises OperationalError, ConnectionError, OSError... by transport
        logger.error("cannot enqueue %s %s: %s", model._meta.verbose_name, pk, exc)
        if model.KEEP_WHEN_BROKER_DOWN:
            model.objects.filter(pk=pk, status=model.Status.QUEUED).update(
                task_id="",
                error=f"not started yet: the task queue is unreachable ({exc}). It is kept; it starts when a "
                "worker starts or at the next sweep.",
            )
            return False
        finish(model, pk, model.Status.FAILED, error=f"not started: the task queue is unreachable ({exc})")
        raise BrokerUnavailable() from exc
    model.objects.filter(pk=pk).update(task_id=result.id or "")
    return True


# --- staleness and the sweep --------------------------------------------------------------


def stale_cutoff(now: datetime | None = None) -> datetime:
    """A running row whose last sign of life is older than this has lost its worker."""
    return (now or timezone.now()) - timedelta(seconds=settings.SIGVERIFY_STALE_AFTER_S)


def stale_filter(cutoff: datetime) -> Q:
    """Rows (of any status) whose last heartbeat, or start when none came, is before ``cutoff``."""
    return Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)


def stale_running(model, now: datetime | None = None) -> Q:
    """Running rows whose worker has been silent for ``SIGVERIFY_STALE_AFTER_S``: the one rule."""
    return Q(status=model.Status.RUNNING) & stale_filter(stale_cutoff(now))


def stale_message(outcome: str) -> str:
    return (
        f"the worker stopped reporting (no heartbeat for {settings.SIGVERIFY_STALE_AFTER_S:g} s): "
        f"it was probably killed or lost; {outcome}"
    )


def seen_status_filter(model, status: str, now: datetime | None = None) -> Q:
    """Rows that readers see with ``status`` (``Run.as_seen``): stale running rows count as their end."""
    stale = stale_running(model, now)
    if status == model.Status.RUNNING:
        return Q(status=status) & ~stale
    if status in model.STALE_ENDS:
        return Q(status=status) | (stale & model.STALE_ENDS[status])
    return Q(status=status)


def end_stale(model, now: datetime | None = None, worker: str = "") -> list[int]:
    """Give their stale end to the running rows that lost their worker (and, with ``worker``, to
    those running on that worker, which is starting again); their primary keys."""
    now = now or timezone.now()
    lost = stale_running(model, now)
    if worker and _records_worker(model):
        lost |= Q(status=model.Status.RUNNING, worker=worker)
    ended = []
    for end, condition in model.STALE_ENDS.items():
        chosen = lost & condition
        changes = {"status": end, "error": model.stale_error(end)}
        if end in model.TERMINAL:
            changes["finished_at"] = now
        else:  # queued again: the sweep sends it anew
            changes["task_id"] = ""
        for pk in model.objects.filter(chosen).values_list("pk", flat=True):
            if model.objects.filter(chosen, pk=pk).update(**changes):  # a heartbeat meanwhile wins
                ended.append(pk)
    if ended:
        logger.warning("%s %s(s) lost their worker: %s", len(ended), model._meta.verbose_name, sorted(ended))
    return ended


def _records_worker(model) -> bool:
    return any(f.name == "worker" for f in model._meta.get_fields())


def recover(model, now: datetime | None = None, worker: str = "") -> list[int]:
    """``end_stale``, then (kinds that keep what the broker refused) send again the queued runs with
    no message behind them; the primary keys of the runs changed or sent."""
    touched = end_stale(model, now, worker)
    if model.KEEP_WHEN_BROKER_DOWN:
        unsent = list(model.objects.filter(status=model.Status.QUEUED, task_id="").values_list("pk", flat=True))
        for pk in unsent:
            logger.warning("%s %s: sent again", model._meta.verbose_name, pk)
            enqueue(model, pk)
        touched += [pk for pk in unsent if pk not in touched]
    return touched


def sweep(now: datetime | None = None, worker: str = "") -> dict[type, list[int]]:
    """``recover`` every registered kind of run: {model: primary keys}."""
    return {kind.model: recover(kind.model, now, worker) for kind in run_kinds()}
