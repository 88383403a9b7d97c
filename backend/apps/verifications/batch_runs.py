"""Batch verification, the worker side: the body of the batch task.

``run_batch`` claims a queued (or stale) batch and verifies its pending items a chunk at a time
(``SIGVERIFY_BATCH_CHUNK``, default 32): each item's signer and image are read, the chunk's images
are preprocessed together on ``SIGVERIFY_BATCH_THREADS`` threads (``apps.core.parallel``), then go
through the model in one forward pass, each is scored, and the chunk's verification rows and
"done" marks are written together in one transaction (``bulk_create``). An item that cannot be
verified (a bad image, an unknown signer) gets its own error and the others go on. Items no
longer pending when the chunk is written are left alone, so a run can be repeated after a lost
worker with no item lost or verified twice. A heartbeat per chunk tells a live run from a dead
one (``apps.core.jobs.stale_running``). The steps are ``services.verification_create``'s.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import partial

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, transaction
from django.utils import timezone

from apps.core import jobs
from apps.core.exceptions import ServiceError, ServiceUnavailable
from apps.core.files import delete_quietly
from apps.core.parallel import map_images
from apps.modelregistry.selectors import get_active_version
from apps.signers.selectors import get_signer

from . import services
from .models import BatchItem, Verification, VerificationBatch

logger = logging.getLogger(__name__)

ItemStatus = BatchItem.Status


def run_batch(batch_pk: int, worker: str = "") -> str:
    """The body of the batch task. Verifies the pending items; idempotent and resumable."""
    return jobs.run_resumable(VerificationBatch, batch_pk, worker, partial(_verify_pending, batch_pk))


def _verify_pending(batch_pk: int, attempt: int) -> None:
    pending = BatchItem.objects.filter(batch_id=batch_pk, status=ItemStatus.PENDING).order_by("index")
    item_pks = list(pending.values_list("pk", flat=True))  # at most a few hundred ids
    size = max(1, int(settings.SIGVERIFY_BATCH_CHUNK))
    for start in range(0, len(item_pks), size):
        process_chunk(item_pks[start : start + size])
        jobs.beat(VerificationBatch, batch_pk, attempt)


def process_item(item_pk: int) -> str:
    """Verify one pending item (a chunk of one): "done", "failed" or "skipped"."""
    return process_chunk([item_pk]).get(item_pk, "skipped")


@dataclass
class _Work:
    item: BatchItem
    data: bytes = b""
    array: object = None
    quality: dict = field(default_factory=dict)
    crop: object = None
    context: object = None
    embedding: object = None
    verification: Verification | None = None
    code: str = ""
    message: str = ""

    def fail(self, code: str, message: str) -> None:
        self.code, self.message, self.verification = code, message, None


def process_chunk(item_pks: list[int]) -> dict[int, str]:
    """Verify the pending items among ``item_pks`` with one forward pass: {item pk: "done" or
    "failed"}; items no longer pending (another run did them) are absent. The images are stored
    first, then every row of the chunk is written in one transaction; on any failure there the
    stored images are removed and nothing of the chunk remains."""
    started = time.perf_counter()
    items = (
        BatchItem.objects.select_related("batch__requested_by")
        .filter(pk__in=item_pks, status=ItemStatus.PENDING)
        .order_by("index")
    )
    work = [_Work(item) for item in items]
    if not work:
        return {}
    version = get_active_version()  # once per chunk: every item is scored by the same version
    contexts: dict[str, object] = {}
    for w in work:
        _guard(w, _read, w, version, contexts)
    # the image work of the whole chunk at once, on the pool's threads
    map_images(lambda w: _guard(w, _preprocess, w), [w for w in work if not w.code])
    ready = [w for w in work if not w.code]
    if ready:
        _embed(ready)
    for w in ready:
        if not w.code:
            _guard(w, _build, w)
    return _write(work, started)


def _guard(w: _Work, step, *args) -> None:
    """Run one item's step; its own failure becomes its error, the chunk goes on. A model that
    cannot serve and a lost database stop the run (every item would fail alike)."""
    try:
        step(*args)
    except (ServiceUnavailable, DatabaseError):
        raise
    except ServiceError as exc:
        w.fail(exc.code, exc.message)
    except Exception as exc:  # a bug on one image must not stop the other items
        logger.exception("verification batch %s item %s failed", w.item.batch_id, w.item.index)
        w.fail("internal_error", f"An unexpected error occurred ({type(exc).__name__}); it has been logged.")


def _read(w: _Work, version, contexts: dict) -> None:
    """The item's signer, scoring context and stored image: the database work, on the run's thread."""
    key = w.item.signer_key
    if key not in contexts:  # one signer's references and classifier are read once per chunk
        try:
            signer = get_signer(key)
            contexts[key] = (signer, services.verification_context(signer=signer, version=version))
        except ServiceUnavailable:
            raise
        except ServiceError as exc:
            contexts[key] = exc
    if isinstance(contexts[key], ServiceError):
        raise contexts[key]
    signer, w.context = contexts[key]
    w.item.signer = signer
    try:
        with default_storage.open(w.item.image.name, "rb") as fh:
            w.data = fh.read()
    except (FileNotFoundError, OSError, ValueError):
        raise ServiceError("The item's stored image is missing.", code="image_missing") from None


def _preprocess(w: _Work) -> None:
    """Decode, crop (finding the signature for "auto") and preprocess: no database, on a pool thread."""
    w.array, w.quality, w.crop = services.verification_preprocess(w.data, w.context.version.input_size, w.item.crop)


def _embed(ready: list[_Work]) -> None:
    """One forward pass for the chunk. Should it fail, each image goes alone, so that only the
    image that cannot be embedded fails."""
    verifier = ready[0].context.verifier
    try:
        embeddings = verifier.embed_arrays([w.array for w in ready])
    except (ServiceUnavailable, DatabaseError):
        raise
    except Exception:
        logger.warning("a chunk of %s batch items failed to embed together; embedding them one by one", len(ready))
        for w in ready:
            _guard(w, _embed_one, w)
        return
    for w, embedding in zip(ready, embeddings, strict=True):
        w.embedding = embedding
        w.array = None


def _embed_one(w: _Work) -> None:
    w.embedding = w.context.verifier.embed_arrays([w.array])[0]
    w.array = None


def _build(w: _Work) -> None:
    item = w.item
    w.verification = services.verification_build(
        signer=item.signer,
        context=w.context,
        data=w.data,
        embedding=w.embedding,
        quality=w.quality,
        crop=w.crop,
        cheque_reference=item.cheque_reference,
        user=item.batch.requested_by,
        batch=item.batch,
        found_on_cheque=item.crop == "auto",
    )


def _write(work: list[_Work], started: float) -> dict[int, str]:
    stored: list[str] = []
    try:
        for w in work:
            if w.verification is not None:
                w.verification.image.save(
                    services.image_filename(w.verification, w.data), ContentFile(w.data), save=False
                )
                stored.append(w.verification.image.name)
        # the chunk's time, shared by its verifications (the storing included)
        share = max(1, round(1000 * (time.perf_counter() - started) / len(work)))
        with transaction.atomic():
            still_pending = set(
                BatchItem.objects.select_for_update()
                .filter(pk__in=[w.item.pk for w in work], status=ItemStatus.PENDING)
                .values_list("pk", flat=True)
            )
            mine = [w for w in work if w.item.pk in still_pending]
            verifications = [w.verification for w in mine if w.verification is not None]
            for v in verifications:
                v.processing_ms = share
            Verification.objects.bulk_create(verifications)
            now = timezone.now()
            done, failed = [], []
            for w in mine:
                item = w.item
                item.finished_at = now
                if w.verification is not None:
                    item.status, item.verification = ItemStatus.DONE, w.verification
                    done.append(item)
                else:
                    item.status, item.error_code, item.error_message = ItemStatus.FAILED, w.code[:64], w.message
                    failed.append(item)
            # What the done items share is one UPDATE; only their verification differs per row (a
            # CASE per field and row costs more than the rest of the write).
            BatchItem.objects.filter(pk__in=[item.pk for item in done]).update(status=ItemStatus.DONE, finished_at=now)
            BatchItem.objects.bulk_update(done, ["verification"])
            BatchItem.objects.bulk_update(failed, ["status", "error_code", "error_message", "finished_at"])
    except BaseException:
        for name in stored:
            delete_quietly(name)
        raise
    for w in work:  # another run recorded these meanwhile: their images are not referred to
        if w.item.pk not in still_pending and w.verification is not None:
            delete_quietly(w.verification.image.name)
    return {w.item.pk: w.item.status for w in mine}
