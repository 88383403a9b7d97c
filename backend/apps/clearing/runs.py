"""Clearing runs, the worker side: the body of the clearing task.

``run_clearing_file`` claims a queued (or stale) run, streams the stored file through ``x937``
(one record at a time; a few checks' front images are read ahead, their image work done on a
thread pool meanwhile) and decides each check not yet finished.
An item's cheque decision and its ``ClearingItem`` row are committed together, and (file, key)
is unique, so a run repeated after a lost worker loses and duplicates nothing. A heartbeat per
item tells a live run from a dead one; progress is the number of checks reached.
"""

from __future__ import annotations

import gc
import logging
from collections import deque
from functools import partial

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import DatabaseError, IntegrityError, transaction

import x937
from apps.core import jobs
from apps.core.exceptions import ServiceError, ServiceUnavailable
from apps.core.files import delete_quietly
from apps.core.parallel import batch_threads, image_pool
from apps.modelregistry.selectors import get_active_version

from . import deciding, reading
from .models import ClearingFile, ClearingItem

logger = logging.getLogger(__name__)

FINISHED_WINDOW = 1000  # finished items looked up this many at a time
COLLECT_EVERY = 100  # items between full garbage collections (see ``_decide_items``)


def run_clearing_file(pk: int, worker: str = "") -> str:
    return jobs.run_resumable(ClearingFile, pk, worker, partial(_decide_items, pk))


def _decide_items(pk: int, attempt: int) -> dict:
    """Decide the checks not yet finished; the file's reconciliation for its row once done.

    The image work (decode, signature search, preprocessing) of the next few checks runs ahead on
    the thread pool of ``apps.core.parallel`` while the run's thread decides and writes the current
    one: a window of ``_read_ahead()`` checks, so what is held stays bounded however long the file.

    Memory stays flat however long the file: the reader holds one record and one image, the window a
    few more, the finished items are read a window at a time (``_Finished``), nothing is kept per item,
    and a full garbage collection every ``COLLECT_EVERY`` items frees what Django's model instances
    leave in reference cycles (a saved FileField refers to its row and back): in a worker holding torch
    and Django, Python's own full collections come only after hundreds of thousands of new objects, so
    each item's decision (its JSON, account, mandate, version and card) would otherwise pile up."""
    clearing_file = ClearingFile.objects.select_related("requested_by").get(pk=pk)
    finished = _Finished(pk)
    version, refresh_every, since = None, max(1, int(settings.SIGVERIFY_BATCH_CHUNK)), 0
    window: deque[_Ahead] = deque()
    ahead = _read_ahead()
    try:
        with default_storage.open(clearing_file.file.name, "rb") as stream:
            reader = reading.reader(stream)
            for item in reader:
                entry = _Ahead(item, reader.summary.items)
                if item.index not in finished:
                    if version is None or since >= refresh_every:
                        # once per chunk, not per cheque: its card is parsed once (a promotion meanwhile
                        # is seen at the next chunk)
                        version, since = get_active_version(), 0
                    since += 1
                    entry.version = version
                    if _own_failure(item) is None:
                        entry.prepared = image_pool().submit(
                            deciding.prepare_image, item.front_image, version.input_size
                        )
                del item  # the window holds it now
                window.append(entry)
                if len(window) > ahead:
                    _finish(clearing_file, window.popleft(), pk, attempt)
            while window:
                _finish(clearing_file, window.popleft(), pk, attempt)
            summary = reader.summary
    except x937.X9Error as exc:  # the stored file no longer reads as it did when accepted
        raise jobs.RunStopped(f"The stored file cannot be read: {exc}.") from exc
    finally:
        for entry in window:  # a stopped run: what was started ahead is not waited for
            if entry.prepared is not None:
                entry.prepared.cancel()
    return {
        "items_read": summary.items,
        "totals_reconciled": summary.totals_reconciled,
        "discrepancies": [str(d) for d in summary.discrepancies],
    }


def _read_ahead() -> int:
    """Checks read ahead of the one being decided: enough to keep the pool's threads busy."""
    return 2 * batch_threads() if batch_threads() > 1 else 0


class _Ahead:
    """A check read from the file, waiting in the window: its image work under way (a future)."""

    __slots__ = ("item", "items_read", "version", "prepared")

    def __init__(self, item: x937.Item, items_read: int):
        self.item, self.items_read, self.version, self.prepared = item, items_read, None, None


def _finish(clearing_file: ClearingFile, entry: _Ahead, pk: int, attempt: int) -> None:
    """Decide the window's oldest check (unless finished before), then the heartbeat and progress."""
    if entry.version is not None:
        prepared = entry.prepared.result() if entry.prepared is not None else None
        process_item(clearing_file, entry.item, version=entry.version, prepared=prepared)
    jobs.beat(ClearingFile, pk, attempt, items_read=entry.items_read)
    if entry.items_read % COLLECT_EVERY == 0:
        gc.collect()


class _Finished:
    """``index in finished``: whether the file's check at ``index`` has its row already. Asked in file
    order; reads the indexes of one window of ``FINISHED_WINDOW`` checks at a time, so a resumed run of
    30,000 checks never holds them all. (The stored file is the one accepted: index and key go together.)"""

    def __init__(self, pk: int):
        self.pk, self.upto, self.indexes = pk, 0, frozenset()

    def __contains__(self, index: int) -> bool:
        if index > self.upto:
            self.upto = index + FINISHED_WINDOW - 1
            self.indexes = frozenset(
                ClearingItem.objects.filter(
                    clearing_file_id=self.pk, index__gte=index, index__lte=self.upto
                ).values_list("index", flat=True)
            )
        return index in self.indexes


def _own_failure(item: x937.Item) -> tuple[str, str] | None:
    """Why an item cannot be decided from what the file says, before any decision is tried."""
    if item.front_image_length == 0:
        return "image_missing", "The check has no front image in the file."
    if item.account is None:
        return "account_missing", f"No account number could be read from the On-Us field {item.on_us!r}."
    if item.amount_cents is None:
        return "invalid_amount", "; ".join(p for p in item.problems if "amount" in p) or "The amount is unreadable."
    return None


def process_item(clearing_file: ClearingFile, item: x937.Item, version=None, prepared=None) -> str:
    """Decide one check and record it; an item another run recorded meanwhile is left alone.
    ``version``: the active model version the run read for this chunk (None: read now).
    ``prepared``: the front image's work done ahead (``deciding.prepare_image``; None: done now)."""
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
                            version=version,
                            prepared=prepared,
                        )
                except (ServiceUnavailable, DatabaseError):
                    raise
                except ServiceError as exc:
                    failure = exc.code, exc.message
                except Exception as exc:  # a bug on one image must not stop the other items
                    logger.exception("clearing file %s item %s failed", clearing_file.pk, item.key)
                    failure = "internal_error", f"An unexpected error occurred ({type(exc).__name__}); it is logged."
            if cheque is not None:
                # By id, not the instance: setting a one-to-one caches each row on the other, a reference
                # cycle that keeps every decision (its JSON, account, mandate, version and card) alive
                # until a full garbage collection, which a long run reaches rarely: memory grew per item.
                row.status, row.decision, row.cheque_id = ClearingItem.Status.DECIDED, cheque.decision, cheque.pk
            else:
                row.status = ClearingItem.Status.FAILED
                row.failure_code, row.failure_reason = failure[0][:64], failure[1]
            row.save()
        return row.status
    except IntegrityError:
        if not ClearingItem.objects.filter(clearing_file=clearing_file, key=row.key).exists():
            raise
        delete_quietly(cheque.image.name if cheque else None)  # its decision row rolled back with this item
        return "skipped"
    except BaseException:
        delete_quietly(cheque.image.name if cheque else None)
        raise
