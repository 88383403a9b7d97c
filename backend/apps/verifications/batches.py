"""Batch verification, the web side: accept a batch, queue it, resume a stopped one.

- ``create_batch`` stores every item's image with the batch rows in one transaction, then
  puts the batch on the default queue. An image that cannot be read as base64 (or is too
  large) fails its item at once; the rest of the batch goes on.
- ``resume_batch`` queues a stopped batch again; the sweep of ``apps.core.jobs`` does the same
  for one whose worker was lost. ``batch_runs.run_batch`` (the task's body) skips the items
  already done, so none is lost or verified twice.
"""

from __future__ import annotations

import base64
import binascii
import logging
from functools import partial

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from apps.core import jobs
from apps.core.exceptions import InvalidImage
from apps.core.files import delete_quietly
from apps.core.images import max_upload_bytes, sha256_bytes, sniff_image_type

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
                transaction.on_commit(partial(jobs.enqueue, VerificationBatch, batch.pk))
    except BaseException:
        for name in stored:
            delete_quietly(name)
        raise
    return batch


def _mark_failed(row: BatchItem, code: str, message: str) -> None:
    row.status, row.error_code, row.error_message, row.finished_at = ItemStatus.FAILED, code, message, timezone.now()


def resume_batch(batch: VerificationBatch) -> VerificationBatch:
    """Queue a batch again: one that failed, one still queued (its message may be lost) or one
    whose worker stopped reporting. Its finished items are kept; only pending ones are run."""
    return jobs.resume(batch, done_code="batch_done", running_code="batch_running")
