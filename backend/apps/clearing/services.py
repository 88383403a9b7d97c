"""Clearing files, the web side: accept a file, queue its run, resume or recover a stopped one.

- ``accept_clearing_file`` reads the upload once, streaming, through ``x937`` without keeping any
  image (structure, counts, reconciliation) while hashing it. A file that cannot be read is
  refused with the record number and why, and nothing is stored. A file already received (same
  sha256) is answered with its existing run and adds nothing.
- ``resume_clearing_file`` queues a stopped run again; the sweep of ``apps.core.jobs`` does the same
  for one whose worker was lost (a clearing file is a ``jobs.Run``, registered in ``AppConfig.ready()``).
  ``runs.run_clearing_file`` skips the items already finished, so none is lost or decided twice.
"""

from __future__ import annotations

import hashlib
import logging
from functools import partial

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction

import x937
from apps.core import jobs
from apps.core.exceptions import ServiceError
from apps.core.files import delete_quietly

from . import reading
from .models import ClearingFile

logger = logging.getLogger(__name__)

Status = ClearingFile.Status


class UnreadableClearingFile(ServiceError):
    default_code = "unreadable_clearing_file"


class ClearingFileTooLarge(ServiceError):
    http_status = 413
    default_code = "file_too_large"


class _Hashing:
    """A read-only file object that hashes what is read through it."""

    def __init__(self, raw):
        self.raw, self.digest, self.size = raw, hashlib.sha256(), 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.digest.update(data)
        self.size += len(data)
        return data


def _refuse(reason: str) -> UnreadableClearingFile:
    return UnreadableClearingFile(f"The clearing file cannot be read: {reason}.", fields={"file": [reason]})


def accept_clearing_file(*, upload, user) -> tuple[ClearingFile, bool]:
    """Validate, store and queue an uploaded image cash letter; (its run, whether it is new)."""
    limit = settings.SIGVERIFY_CLEARING_MAX_MB * 1024 * 1024
    if upload.size > limit:
        raise ClearingFileTooLarge(
            f"The file is {upload.size / 1048576:.0f} MB, more than the limit of "
            f"{settings.SIGVERIFY_CLEARING_MAX_MB} MB."
        )
    upload.seek(0)
    hashing = _Hashing(upload.file)
    try:
        summary = x937.validate(hashing, rule_for_routing=reading.account_rule_for)
    except x937.X9Error as exc:
        raise _refuse(str(exc)) from None
    while hashing.read(1 << 20):  # validation stops at the end of the data: hash what is left
        pass
    sha256 = hashing.digest.hexdigest()
    if summary.items == 0:
        raise _refuse("it holds no check (record 25)")
    existing = ClearingFile.objects.filter(sha256=sha256).first()
    if existing is not None:
        return existing, False
    upload.seek(0)
    row = ClearingFile(
        sha256=sha256,
        file_name=(getattr(upload, "name", "") or "")[:255],
        size_bytes=hashing.size,
        encoding=summary.encoding,
        length_prefixed=summary.length_prefixed,
        items_total=summary.items,
        amount_total_cents=summary.items_total_cents,
        returns_skipped=summary.returns_skipped,
        credits_skipped=summary.credits_skipped,
        totals_reconciled=summary.totals_reconciled,
        discrepancies=[str(d) for d in summary.discrepancies],
        requested_by=user if getattr(user, "is_authenticated", False) else None,
    )
    stored = None
    try:
        with transaction.atomic():
            row.file.save(f"{sha256}.icl", File(upload.file), save=False)  # streamed in chunks
            stored = row.file.name
            row.save()
            transaction.on_commit(partial(jobs.enqueue, ClearingFile, row.pk))
    except IntegrityError:
        delete_quietly(stored)
        existing = ClearingFile.objects.filter(sha256=sha256).first()
        if existing is None:
            raise
        return existing, False  # the same file, uploaded at the same moment
    except BaseException:
        delete_quietly(stored)
        raise
    return row, True


def resume_clearing_file(clearing_file: ClearingFile) -> ClearingFile:
    """Queue a run again: one that failed, one still queued, or one whose worker stopped reporting.
    Its finished items are kept; only the others are decided."""
    return jobs.resume(clearing_file, done_code="run_done", running_code="run_running")
