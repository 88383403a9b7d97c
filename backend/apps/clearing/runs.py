"""Clearing runs, the worker side: the body of the clearing task.

``run_clearing_file`` claims a queued (or stale) run, streams the stored file through ``x937``
(one record and one front image in memory at a time) and decides each check not yet finished.
An item's cheque decision and its ``ClearingItem`` row are committed together, and (file, key)
is unique, so a run repeated after a lost worker loses and duplicates nothing. A heartbeat per
item tells a live run from a dead one; progress is the number of checks reached.
"""

from __future__ import annotations

import logging

from django.core.files.storage import default_storage
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

import x937
from apps.core import jobs
from apps.core.exceptions import ServiceError, ServiceUnavailable

from . import deciding, reading
from .models import ClearingFile, ClearingItem

logger = logging.getLogger(__name__)

Status = ClearingFile.Status


class _TakenOver(Exception):
    """Another run of the same file owns it now (this one was thought dead and resumed)."""


def run_clearing_file(pk: int, worker: str = "") -> str:
    now = timezone.now()
    claimed = ClearingFile.objects.filter(Q(status=Status.QUEUED) | jobs.stale_running(ClearingFile), pk=pk).update(
        status=Status.RUNNING,
        attempts=F("attempts") + 1,
        heartbeat_at=now,
        started_at=Coalesce("started_at", now),
        worker=worker[:200],
        error="",
    )
    if not claimed:
        current = ClearingFile.objects.filter(pk=pk).values_list("status", flat=True).first()
        logger.info("clearing file %s not started: status is %s", pk, current)
        return f"skipped ({current})"
    clearing_file = ClearingFile.objects.select_related("requested_by").get(pk=pk)
    attempt = clearing_file.attempts
    finished = set(ClearingItem.objects.filter(clearing_file_id=pk).values_list("key", flat=True))
    try:
        with default_storage.open(clearing_file.file.name, "rb") as stream:
            reader = reading.reader(stream)
            for item in reader:
                if item.key not in finished:
                    process_item(clearing_file, item)
                _beat(pk, attempt, items_read=item.index)
            summary = reader.summary
    except _TakenOver:
        logger.warning("clearing file %s: another run took it over; this one stops", pk)
        return "taken over"
    except ServiceUnavailable as exc:  # no model can serve: every item would fail the same way
        _stop_failed(pk, attempt, exc.message)
        return "failed"
    except x937.X9Error as exc:  # the stored file no longer reads as it did when accepted
        _stop_failed(pk, attempt, f"The stored file cannot be read: {exc}.")
        return "failed"
    except Exception as exc:  # the database or the storage went away, a bug: stop, resumable
        logger.exception("clearing file %s failed", pk)
        _stop_failed(pk, attempt, f"{type(exc).__name__}: {exc}")
        return "failed"
    done = _owned(pk, attempt).update(
        status=Status.DONE,
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
        items_read=summary.items,
        totals_reconciled=summary.totals_reconciled,
        discrepancies=[str(d) for d in summary.discrepancies],
    )
    return "done" if done else "taken over"


def _owned(pk: int, attempt: int):
    return ClearingFile.objects.filter(pk=pk, status=Status.RUNNING, attempts=attempt)


def _beat(pk: int, attempt: int, items_read: int) -> None:
    if not _owned(pk, attempt).update(heartbeat_at=timezone.now(), items_read=items_read):
        raise _TakenOver()


def _stop_failed(pk: int, attempt: int, reason: str) -> None:
    try:
        _owned(pk, attempt).update(
            status=Status.FAILED,
            finished_at=timezone.now(),
            error=f"{reason} The finished items are kept; resume the run once this is fixed.",
        )
    except DatabaseError:
        logger.exception("clearing file %s: could not record the failure; it is resumable once stale", pk)


def _own_failure(item: x937.Item) -> tuple[str, str] | None:
    """Why an item cannot be decided from what the file says, before any decision is tried."""
    if item.front_image_length == 0:
        return "image_missing", "The check has no front image in the file."
    if item.account is None:
        return "account_missing", f"No account number could be read from the On-Us field {item.on_us!r}."
    if item.amount_cents is None:
        return "invalid_amount", "; ".join(p for p in item.problems if "amount" in p) or "The amount is unreadable."
    return None


def process_item(clearing_file: ClearingFile, item: x937.Item) -> str:
    """Decide one check and record it; an item another run recorded meanwhile is left alone."""
    row = ClearingItem(
        clearing_file=clearing_file,
        key=item.key[:40],
        index=item.index,
        record_number=item.record_number,
        sequence_number=item.sequence_number[:15],
        payor_routing=item.payor_routing[:9],
        on_us=item.on_us[:20],
        account_number=(item.account or "")[:34],
        amount_cents=item.amount_cents,
        business_date=item.business_date,
    )
    cheque = None
    try:
        with transaction.atomic():
            failure = _own_failure(item)
            if failure is None:
                try:
                    with transaction.atomic():  # a refused item leaves nothing of its own behind
                        cheque = deciding.decide_cheque(
                            account_number=item.account,
                            image=item.front_image,
                            amount_cents=item.amount_cents,
                            cheque_date=item.business_date,
                            cheque_reference=f"{clearing_file.sha256[:12]}/{item.key}"[:100],
                            requested_by=clearing_file.requested_by,
                        )
                except (ServiceUnavailable, DatabaseError):
                    raise
                except ServiceError as exc:
                    failure = exc.code, exc.message
                except Exception as exc:  # a bug on one image must not stop the other items
                    logger.exception("clearing file %s item %s failed", clearing_file.pk, item.key)
                    failure = "internal_error", f"An unexpected error occurred ({type(exc).__name__}); it is logged."
            if cheque is not None:
                row.status, row.decision, row.cheque = ClearingItem.Status.DECIDED, cheque.decision, cheque
            else:
                row.status = ClearingItem.Status.FAILED
                row.failure_code, row.failure_reason = failure[0][:64], failure[1]
            row.save()
        return row.status
    except IntegrityError:
        if not ClearingItem.objects.filter(clearing_file=clearing_file, key=row.key).exists():
            raise
        _delete_quietly(cheque)  # its decision row rolled back with this item
        return "skipped"
    except BaseException:
        _delete_quietly(cheque)
        raise


def _delete_quietly(cheque) -> None:
    name = getattr(getattr(cheque, "image", None), "name", None)
    if name:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not remove %s after a rolled-back clearing item", name)
