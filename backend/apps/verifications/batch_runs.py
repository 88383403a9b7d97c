"""Batch verification, the worker side: the body of the batch task.

``run_batch`` claims a queued (or stale) batch and verifies its pending items one by one
through ``services.verification_create``, the same service as a single verification. Each
item's log row and its "done" mark are committed together and an item no longer pending is
skipped, so a run can be repeated after a lost worker with no item lost or verified twice.
A heartbeat per item tells a live run from a dead one (``apps.core.jobs.stale_running``).
"""

from __future__ import annotations

import logging
from functools import partial

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, transaction
from django.utils import timezone

from apps.core import jobs
from apps.core.exceptions import ServiceError, ServiceUnavailable
from apps.core.files import delete_quietly
from apps.signers.selectors import get_signer

from . import services
from .models import BatchItem, VerificationBatch

logger = logging.getLogger(__name__)

ItemStatus = BatchItem.Status


def run_batch(batch_pk: int, worker: str = "") -> str:
    """The body of the batch task. Verifies the pending items; idempotent and resumable."""
    return jobs.run_resumable(VerificationBatch, batch_pk, worker, partial(_verify_pending, batch_pk))


def _verify_pending(batch_pk: int, attempt: int) -> None:
    pending = BatchItem.objects.filter(batch_id=batch_pk, status=ItemStatus.PENDING).order_by("index")
    for item_pk in list(pending.values_list("pk", flat=True)):  # at most a few hundred ids
        process_item(item_pk)
        jobs.beat(VerificationBatch, batch_pk, attempt)


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
        delete_quietly(created_file)
        return "skipped"
    except BaseException:
        delete_quietly(created_file)
        raise


class _AlreadyDone(Exception):
    pass


def _verify(item: BatchItem):
    signer = get_signer(item.signer_key)
    try:
        with default_storage.open(item.image.name, "rb") as fh:
            data = fh.read()
    except (FileNotFoundError, OSError, ValueError):
        raise ServiceError("The item's stored image is missing.", code="image_missing") from None
    return services.verification_create(
        signer=signer,
        image=ContentFile(data, name=item.image.name),
        crop=item.crop,
        cheque_reference=item.cheque_reference,
        user=item.batch.requested_by,
        batch=item.batch,
    )
