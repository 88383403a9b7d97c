"""Batch verification: accept a batch, verify its items on a worker, resume a stopped one.

- ``create_batch`` (web side) stores every item's image with the batch rows in one
  transaction, then puts the batch on the default queue. An image that cannot be read as
  base64 (or is too large) fails its item at once; the rest of the batch goes on.
- ``run_batch`` (the Celery task's body) verifies the pending items one by one through
  ``services.verify_signature``, the same service as a single verification.
- Resumable: each item's log row and the item's "done" mark are committed together, and
  an item that is no longer pending is skipped, so a batch whose worker was killed can be
  run again (``resume_batch``, ``recover_batches``) with no item lost or verified twice.
"""

from __future__ import annotations

import base64
import binascii
import logging
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.core.exceptions import Conflict, InvalidImage, ServiceError, ServiceUnavailable
from apps.core.images import max_upload_bytes, sha256_bytes, sniff_image_type
from apps.signers.selectors import find_signer

from . import services, tasks
from .models import BatchItem, VerificationBatch

logger = logging.getLogger(__name__)

Status = VerificationBatch.Status
ItemStatus = BatchItem.Status


# --- accepting a batch (web side) --------------------------------------------------------------


def decode_image(text: str) -> bytes:
    """The bytes of a base64 image (standard alphabet; a ``data:...;base64,`` prefix is allowed)."""
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidImage("The image is not valid base64.", code="invalid_base64") from None
    if not data:
        raise InvalidImage("The image is empty.", code="empty_file")
    if len(data) > max_upload_bytes():
        raise InvalidImage(
            f"The image is {len(data) / 1048576:.1f} MB, more than the limit of {settings.SIGVERIFY_MAX_UPLOAD_MB} MB.",
            code="file_too_large",
        )
    return data


def create_batch(*, user, items: list[dict]) -> VerificationBatch:
    """Record a batch and its items with their images, and queue it once committed.

    ``items``: dicts with ``signer``, ``image`` (base64), optional ``crop`` and
    ``cheque_reference``. On any failure no row and no stored image remains.
    """
    stored: list[str] = []
    try:
        with transaction.atomic():
            batch = VerificationBatch.objects.create(requested_by=user, total=len(items))
            rows = []
            for index, item in enumerate(items):
                row = BatchItem(
                    batch=batch,
                    index=index,
                    signer_key=item["signer"],
                    crop=item.get("crop"),
                    cheque_reference=item.get("cheque_reference") or "",
                )
                try:
                    data = decode_image(item["image"])
                except InvalidImage as exc:
                    _mark_failed(row, exc.code, exc.message)
                else:
                    row.image_sha256 = sha256_bytes(data)
                    _, extension = sniff_image_type(data)
                    row.image.save(f"{index:03d}-{row.image_sha256[:16]}.{extension}", ContentFile(data), save=False)
                    stored.append(row.image.name)
                rows.append(row)
            BatchItem.objects.bulk_create(rows)
            if all(row.status == ItemStatus.FAILED for row in rows):
                batch.status, batch.finished_at = Status.DONE, timezone.now()
                batch.save(update_fields=["status", "finished_at"])
            else:
                transaction.on_commit(partial(enqueue_batch, batch.pk))
    except BaseException:
        for name in stored:
            try:
                default_storage.delete(name)
            except OSError:
                logger.warning("could not remove %s after a failed batch", name)
        raise
    return batch


def _mark_failed(row: BatchItem, code: str, message: str) -> None:
    row.status, row.error_code, row.error_message, row.finished_at = ItemStatus.FAILED, code, message, timezone.now()


def enqueue_batch(batch_pk: int) -> bool:
    """Put the batch on the default queue. If the broker is unreachable the batch stays queued
    (its images are stored): a worker picks it up when it starts, or on resume."""
    try:
        result = tasks.run_verification_batch.apply_async(args=[batch_pk], queue=settings.SIGVERIFY_DEFAULT_QUEUE)
    except Exception as exc:  # kombu raises OperationalError, ConnectionError, OSError... by transport
        logger.error("cannot enqueue verification batch %s: %s", batch_pk, exc)
        VerificationBatch.objects.filter(pk=batch_pk, status=Status.QUEUED).update(
            task_id="",  # so that the next sweep (or a starting worker) sends it again
            error=f"not started yet: the task queue is unreachable ({exc}). The batch is kept; it starts when "
            "a worker starts, or on POST .../resume/.",
        )
        return False
    VerificationBatch.objects.filter(pk=batch_pk).update(task_id=result.id or "")
    return True


def resume_batch(batch: VerificationBatch) -> VerificationBatch:
    """Queue a batch again: one that failed, one still queued (its message may be lost) or one
    whose worker stopped reporting. Its finished items are kept; only pending ones are run."""
    resumable = Q(status__in=(Status.QUEUED, Status.FAILED)) | _stale_running()
    if VerificationBatch.objects.filter(resumable, pk=batch.pk).update(status=Status.QUEUED, finished_at=None):
        transaction.on_commit(partial(enqueue_batch, batch.pk))
        batch.refresh_from_db()
        return batch
    batch.refresh_from_db()
    if batch.status == Status.DONE:
        raise Conflict(f"Verification batch {batch.pk} is done; there is nothing to resume.", code="batch_done")
    raise Conflict(
        f"Verification batch {batch.pk} is running on {batch.worker or 'a worker'}, which reported "
        f"{(timezone.now() - batch.heartbeat_at).total_seconds():.0f} s ago. It can be resumed once its worker "
        f"has been silent for {settings.SIGVERIFY_STALE_AFTER_S:g} s.",
        code="batch_running",
    )


def recover_batches(worker: str = "") -> list[int]:
    """Queue again the batches a dead worker left behind; returns their ids.

    Those running on ``worker`` (a worker of that name is starting, so the earlier one is
    gone), those whose worker stopped reporting, and queued ones that never reached the
    broker. Called when a worker starts and by ``manage.py resume_stale_batches``.
    """
    orphaned = _stale_running()
    if worker:
        orphaned |= Q(status=Status.RUNNING, worker=worker)
    recovered = []
    for pk in VerificationBatch.objects.filter(orphaned).values_list("pk", flat=True):
        if VerificationBatch.objects.filter(orphaned, pk=pk).update(status=Status.QUEUED):
            recovered.append(pk)
    recovered += (
        VerificationBatch.objects.filter(status=Status.QUEUED, task_id="")
        .exclude(pk__in=recovered)
        .values_list("pk", flat=True)
    )
    for pk in recovered:
        logger.warning("verification batch %s: queued again (its worker stopped or it never reached the broker)", pk)
        enqueue_batch(pk)
    return recovered


def _stale_running() -> Q:
    cutoff = timezone.now() - timedelta(seconds=settings.SIGVERIFY_STALE_AFTER_S)
    return Q(status=Status.RUNNING) & (Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True))


# --- running a batch (worker side) -------------------------------------------------------------


class _TakenOver(Exception):
    """Another run of the same batch owns it now (this one was thought dead and resumed)."""


def run_batch(batch_pk: int, worker: str = "") -> str:
    """The body of the batch task. Verifies the pending items; idempotent and resumable."""
    now = timezone.now()
    claimable = Q(status=Status.QUEUED) | _stale_running()
    claimed = VerificationBatch.objects.filter(claimable, pk=batch_pk).update(
        status=Status.RUNNING,
        attempts=F("attempts") + 1,
        heartbeat_at=now,
        started_at=Coalesce("started_at", now),
        worker=worker[:200],
        error="",
    )
    if not claimed:
        current = VerificationBatch.objects.filter(pk=batch_pk).values_list("status", flat=True).first()
        logger.info("verification batch %s not started: status is %s", batch_pk, current)
        return f"skipped ({current})"
    attempt = VerificationBatch.objects.values_list("attempts", flat=True).get(pk=batch_pk)
    pending = BatchItem.objects.filter(batch_id=batch_pk, status=ItemStatus.PENDING).order_by("index")
    try:
        for item_pk in list(pending.values_list("pk", flat=True)):
            process_item(item_pk)
            _beat(batch_pk, attempt)
    except _TakenOver:
        logger.warning("verification batch %s: another run took it over; this one stops", batch_pk)
        return "taken over"
    except ServiceUnavailable as exc:
        # The model cannot be served: every item would fail the same way. Stop; resume later.
        _stop_failed(batch_pk, attempt, exc.message)
        return "failed"
    except Exception as exc:  # the database went away, a bug: the batch stops, resumable
        logger.exception("verification batch %s failed", batch_pk)
        _stop_failed(batch_pk, attempt, f"{type(exc).__name__}: {exc}")
        return "failed"
    if not _owned(batch_pk, attempt).update(
        status=Status.DONE, finished_at=timezone.now(), heartbeat_at=timezone.now()
    ):
        return "taken over"
    return "done"


def _owned(batch_pk: int, attempt: int):
    return VerificationBatch.objects.filter(pk=batch_pk, status=Status.RUNNING, attempts=attempt)


def _stop_failed(batch_pk: int, attempt: int, reason: str) -> None:
    try:
        _owned(batch_pk, attempt).update(
            status=Status.FAILED,
            finished_at=timezone.now(),
            error=f"{reason} The finished items are kept; resume the batch once this is fixed.",
        )
    except DatabaseError:
        logger.exception("verification batch %s: could not record the failure; it is resumable once stale", batch_pk)


def _beat(batch_pk: int, attempt: int) -> None:
    if not _owned(batch_pk, attempt).update(heartbeat_at=timezone.now()):
        raise _TakenOver()


def process_item(item_pk: int) -> str:
    """Verify one pending item. Its log row and its result are committed together; an item
    that is no longer pending (another run did it) is left alone."""
    created_file = None
    try:
        with transaction.atomic():
            item = (
                BatchItem.objects.select_for_update(of=("self",))
                .select_related("batch__requested_by")
                .filter(pk=item_pk, status=ItemStatus.PENDING)
                .first()
            )
            if item is None:
                return "skipped"
            verification, code, message = None, "", ""
            try:
                with transaction.atomic():  # a refused item leaves nothing of its own behind
                    verification = _verify(item)
                    created_file = verification.image.name
            except ServiceUnavailable:
                raise
            except ServiceError as exc:
                code, message = exc.code, exc.message
            except DatabaseError:
                raise
            except Exception as exc:  # a bug on one image must not stop the other items
                logger.exception("verification batch %s item %s failed", item.batch_id, item.index)
                code, message = (
                    "internal_error",
                    f"An unexpected error occurred ({type(exc).__name__}); it has been logged.",
                )
            changes = {"finished_at": timezone.now()}
            if verification is not None:
                changes.update(status=ItemStatus.DONE, verification=verification)
            else:
                changes.update(status=ItemStatus.FAILED, error_code=code[:64], error_message=message)
            if not BatchItem.objects.filter(pk=item_pk, status=ItemStatus.PENDING).update(**changes):
                raise _AlreadyDone()  # rolls back this run's log row: the item has its result already
        return changes["status"]
    except _AlreadyDone:
        _delete_quietly(created_file)
        return "skipped"
    except BaseException:
        _delete_quietly(created_file)
        raise


class _AlreadyDone(Exception):
    pass


def _verify(item: BatchItem):
    signer = find_signer(item.signer_key)
    if signer is None:
        raise ServiceError(f"No signer with id or external id {item.signer_key!r}.", code="signer_not_found")
    try:
        with default_storage.open(item.image.name, "rb") as fh:
            data = fh.read()
    except (FileNotFoundError, OSError, ValueError):
        raise ServiceError("The item's stored image is missing.", code="image_missing") from None
    return services.verify_signature(
        signer=signer,
        image=ContentFile(data, name=item.image.name),
        crop=item.crop,
        cheque_reference=item.cheque_reference,
        user=item.batch.requested_by,
        batch=item.batch,
    )


def _delete_quietly(name: str | None) -> None:
    if name:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not remove %s after a rolled-back batch item", name)
