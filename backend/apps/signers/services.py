"""Signers and their reference signatures: create, suspend, enroll, remove."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from apps.core.exceptions import Conflict, InvalidImage, ServiceError
from apps.core.images import preprocess_bytes, read_upload, sha256_bytes, sniff_image_type
from apps.modelregistry.selectors import get_active_version
from apps.modelregistry.serving import require_verifier

from .models import ReferenceEmbedding, ReferenceSignature, Signer

logger = logging.getLogger(__name__)


def signer_create(*, external_id: str, full_name: str, status: str = Signer.Status.ACTIVE) -> Signer:
    return Signer.objects.create(external_id=external_id, full_name=full_name, status=status)


def signer_update(signer: Signer, **changes) -> Signer:
    allowed = {"external_id", "full_name", "status"}
    for name, value in changes.items():
        if name not in allowed:
            raise ValueError(f"cannot change {name}")
        setattr(signer, name, value)
    signer.save()
    return signer


def signer_set_status(signer: Signer, status: str) -> Signer:
    if signer.status != status:
        signer.status = status
        signer.save(update_fields=["status", "updated_at"])
    return signer


@dataclass
class _Candidate:
    filename: str
    data: bytes
    sha256: str
    content_type: str
    extension: str
    array: np.ndarray
    quality: dict


@dataclass
class EnrollmentResult:
    accepted: list[ReferenceSignature] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)


def _reject(result: EnrollmentResult, filename: str, code: str, message: str) -> None:
    result.rejected.append({"filename": filename, "code": code, "message": message})


def enroll_references(*, signer: Signer, files, user=None) -> EnrollmentResult:
    """Check, embed (with the active model version) and store each reference image.

    Each file is judged on its own; the accepted ones are stored together in one
    transaction, and their files are removed again if it fails.
    """
    version = get_active_version()
    verifier = require_verifier(version)
    result = EnrollmentResult()
    known = set(signer.references.values_list("sha256", flat=True))
    candidates: list[_Candidate] = []
    for index, upload in enumerate(files):
        filename = str(getattr(upload, "name", "") or f"image {index + 1}")[:255]
        try:
            data = read_upload(upload)
            digest = sha256_bytes(data)
            if digest in known:
                _reject(result, filename, "duplicate", "This image is already enrolled for this signer.")
                continue
            array, quality = preprocess_bytes(data, version.input_size)
        except InvalidImage as exc:
            _reject(result, filename, exc.code, exc.message)
            continue
        known.add(digest)
        content_type, extension = sniff_image_type(data)
        candidates.append(_Candidate(filename, data, digest, content_type, extension, array, quality))

    if not candidates:
        return result
    vectors = verifier.embed_arrays([c.array for c in candidates])
    result.accepted = _store_references(signer, candidates, vectors, version, user)
    return result


def _store_references(signer, candidates, vectors, version, user) -> list[ReferenceSignature]:
    stored_files: list[str] = []
    try:
        with transaction.atomic():
            references = []
            for candidate, vector in zip(candidates, vectors, strict=True):
                reference = ReferenceSignature(
                    signer=signer,
                    sha256=candidate.sha256,
                    original_name=candidate.filename,
                    content_type=candidate.content_type,
                    quality=candidate.quality,
                    enrolled_by=user if (user is not None and user.is_authenticated) else None,
                )
                reference.image.save(
                    f"{candidate.sha256}.{candidate.extension}", ContentFile(candidate.data), save=False
                )
                stored_files.append(reference.image.name)
                reference.save()
                ReferenceEmbedding.objects.create(
                    reference=reference, model_version=version, vector=ReferenceEmbedding.to_bytes(vector)
                )
                references.append(reference)
            return references
    except BaseException as exc:
        _delete_files(stored_files)
        if isinstance(exc, IntegrityError):
            raise Conflict(
                "The same image was enrolled for this signer at the same time; retry.", code="duplicate"
            ) from exc
        raise


def _delete_files(names) -> None:
    from django.core.files.storage import default_storage

    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not remove %s after a failed transaction", name)


def reference_delete(reference: ReferenceSignature) -> None:
    """Remove a reference, its embeddings and, once the deletion is committed, its file."""
    name = reference.image.name
    with transaction.atomic():
        reference.delete()
        transaction.on_commit(lambda: _delete_files([name]))


def embed_missing_references(version, batch_size: int = 64, progress=None) -> int:
    """Embed every reference that has no embedding for ``version``; returns how many.

    Used by bulk enrollment and by promotion (re-embedding for a new version). Idempotent.
    """
    from django.core.files.storage import default_storage

    from apps.modelregistry.serving import get_verifier

    verifier = get_verifier(version)
    pending = (
        ReferenceSignature.objects.exclude(embeddings__model_version=version).order_by("id").values_list("id", "image")
    )
    done = 0
    ids = list(pending)
    for start in range(0, len(ids), batch_size):
        chunk = ids[start : start + batch_size]
        arrays, kept = [], []
        for ref_id, name in chunk:
            with default_storage.open(name, "rb") as fh:
                data = fh.read()
            try:
                array, _ = preprocess_bytes(data, version.input_size)
            except InvalidImage as exc:
                logger.warning("reference %s cannot be embedded with %s: %s", ref_id, version.name, exc.message)
                continue
            arrays.append(array)
            kept.append(ref_id)
        if arrays:
            vectors = verifier.embed_arrays(arrays)
            ReferenceEmbedding.objects.bulk_create(
                [
                    ReferenceEmbedding(
                        reference_id=ref_id, model_version=version, vector=ReferenceEmbedding.to_bytes(v)
                    )
                    for ref_id, v in zip(kept, vectors, strict=True)
                ],
                ignore_conflicts=True,
            )
        done += len(kept)
        if progress:
            progress(min(start + batch_size, len(ids)), len(ids))
    return done


__all__ = [
    "EnrollmentResult",
    "ServiceError",
    "embed_missing_references",
    "enroll_references",
    "reference_delete",
    "signer_create",
    "signer_set_status",
    "signer_update",
]
