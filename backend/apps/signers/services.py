"""Signers and their reference signatures: create, suspend, enroll, remove."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.exceptions import Conflict, InvalidImage, InvalidRequest, ServiceError
from apps.core.images import cropped_png, preprocess_bytes, read_upload, sha256_bytes, sniff_image_type
from apps.modelregistry.selectors import get_active_version
from apps.modelregistry.serving import require_verifier

from . import classifiers, selectors, tasks
from .models import ReferenceEmbedding, ReferenceSignature, Signer
from .scoring import score_against

logger = logging.getLogger(__name__)


def signer_create(*, external_id: str, full_name: str, status: str = Signer.Status.ACTIVE) -> Signer:
    return Signer.objects.create(external_id=external_id, full_name=full_name, status=status)


def signer_update(signer: Signer, **changes) -> Signer:
    allowed = {"external_id", "full_name", "status"}
    for name, value in changes.items():
        if name not in allowed:
            raise InvalidRequest({name: "This field cannot be changed."})
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
    accepted: list[ReferenceSignature] = field(default_factory=list)  # stored and used for verification
    flagged: list[ReferenceSignature] = field(default_factory=list)  # stored, kept out until a person accepts
    rejected: list[dict] = field(default_factory=list)  # not stored


def _reject(result: EnrollmentResult, filename: str, code: str, message: str) -> None:
    result.rejected.append({"filename": filename, "code": code, "message": message})


def references_enroll(*, signer: Signer, files, user=None) -> EnrollmentResult:
    """Check, embed (with the active model version) and store each reference image.

    Each file is judged on its own; the stored ones are stored together in one transaction,
    and their files are removed again if it fails. A readable image that is far from the
    signer's other references (``consistency_flags``) is stored but flagged: it waits for a
    person (``reference_accept`` / ``reference_reject``) and no verification uses it meanwhile.
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
    _, existing = selectors.reference_embeddings(signer, version)
    flags = consistency_flags(version, verifier, vectors, existing)
    stored = _store_references(signer, candidates, vectors, flags, version, user)
    result.accepted = [r for r in stored if r.is_active]
    result.flagged = [r for r in stored if not r.is_active]
    if result.accepted:
        refit_classifier_later(signer)
    return result


def refit_classifier_later(signer: Signer) -> None:
    """Queue the refit of the signer's own classifier (default queue) once this transaction commits: the
    request does not wait for the fit. Meanwhile verifications are scored without it, and say so."""
    transaction.on_commit(partial(_send_refit, signer.pk))


def _send_refit(signer_id: int) -> None:
    try:
        tasks.refit_signer_classifier.apply_async(args=[signer_id], queue=settings.SIGVERIFY_DEFAULT_QUEUE)
    except Exception as exc:  # kombu raises OperationalError, ConnectionError, OSError... by transport
        logger.error(
            "signer %s: classifier refit not queued, the task queue is unreachable (%s); verifications are "
            "scored without it until the next change of its references or a promotion",
            signer_id,
            exc,
        )


def consistency_flags(version, verifier, new_vectors, existing_matrix) -> list[dict]:
    """For each new reference, ``{}`` or the flag that keeps it out of use.

    Each new one is scored, with the calibration and thresholds of a verification at that R,
    against the signer's active references plus the other images of the same upload (so the
    first upload of a card is checked too), without the signer's classifier (fitted on other
    references). One that a verification would call a forgery
    (score below the reject threshold) is flagged: most often another person's signature on
    the card. With nothing to compare with (a first, single image) there is no flag.
    """
    new_vectors = np.asarray(new_vectors, dtype=np.float32)
    existing = np.asarray(existing_matrix, dtype=np.float32).reshape(-1, new_vectors.shape[1])
    flags = []
    for index, vector in enumerate(new_vectors):
        others = np.concatenate([existing, np.delete(new_vectors, index, axis=0)])
        if not len(others):
            flags.append({})
            continue
        scored = score_against(version, verifier, vector, others)
        if scored.score >= scored.thresholds["reject"]:
            flags.append({})
            continue
        flags.append(
            {
                "code": "inconsistent_reference",
                "message": (
                    f"Far from this signer's other references: score {scored.score:.3f} against "
                    f"{scored.references}, below the reject threshold {scored.thresholds['reject']:.3f}. "
                    "Is it the same person's signature? Accept or reject it."
                ),
                "score": round(scored.score, 6),
                "reject_threshold": scored.thresholds["reject"],
                "compared_with": scored.references,
                "model_version": version.name,
            }
        )
    return flags


def _store_references(signer, candidates, vectors, flags, version, user, **provenance) -> list[ReferenceSignature]:
    stored_files: list[str] = []
    try:
        with transaction.atomic():
            references = []
            for candidate, vector, flag in zip(candidates, vectors, flags, strict=True):
                reference = ReferenceSignature(
                    signer=signer,
                    sha256=candidate.sha256,
                    original_name=candidate.filename,
                    content_type=candidate.content_type,
                    quality=candidate.quality,
                    enrolled_by=user if (user is not None and user.is_authenticated) else None,
                    status=ReferenceSignature.Status.PENDING_REVIEW if flag else ReferenceSignature.Status.ACTIVE,
                    flag=flag,
                    **provenance,
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
    """Remove a reference, its embeddings and, once the deletion is committed, its file.

    The signer's verifications then compare with the references left, as before it was added."""
    name = reference.image.name
    signer, was_active = reference.signer, reference.is_active
    with transaction.atomic():
        reference.delete()
        transaction.on_commit(lambda: _delete_files([name]))
    if was_active:
        refit_classifier_later(signer)


def _review_flagged(reference: ReferenceSignature, status: str, user) -> ReferenceSignature:
    with transaction.atomic():
        locked = ReferenceSignature.objects.select_for_update().get(pk=reference.pk)
        if locked.status != ReferenceSignature.Status.PENDING_REVIEW:
            raise Conflict(
                f"Reference {locked.pk} is {locked.status}, not pending review; only a flagged reference "
                "can be accepted or rejected.",
                code="not_pending_review",
            )
        locked.status = status
        locked.reviewed_by = user if (user is not None and user.is_authenticated) else None
        locked.reviewed_at = timezone.now()
        locked.save(update_fields=["status", "reviewed_by", "reviewed_at"])
    return locked


def reference_accept(reference: ReferenceSignature, user=None) -> ReferenceSignature:
    """A person confirms a flagged reference is the signer's: verifications use it from now on."""
    accepted = _review_flagged(reference, ReferenceSignature.Status.ACTIVE, user)
    refit_classifier_later(accepted.signer)
    return accepted


def reference_reject(reference: ReferenceSignature, user=None) -> ReferenceSignature:
    """A person confirms a flagged reference is not the signer's: it is kept (for the record), never used."""
    return _review_flagged(reference, ReferenceSignature.Status.REJECTED, user)


@dataclass
class Growth:
    """What became of a confirmed genuine signature: added as a reference, or why not."""

    added: bool
    code: str
    message: str
    reference: ReferenceSignature | None = None
    score: float | None = None

    def as_dict(self) -> dict:
        out = {"added": self.added, "code": self.code, "message": self.message}
        if self.reference is not None:
            out["reference"] = self.reference.pk
        if self.score is not None:
            out["score"] = round(self.score, 6)
        return out


def grow_from_confirmed_cheque(
    *, signer: Signer, read_image: Callable[[], bytes], crop, verification_id: int, user=None
) -> Growth:
    """Add a questioned signature a person confirmed as genuine to the signer's references, when

    - the bank's policy allows it (``SIGVERIFY_GROW_REFERENCES``),
    - the signer has fewer than ``SIGVERIFY_MAX_REFERENCES`` active references, and
    - it is consistent with them: scored against them as a verification would be, it reaches
      the accept threshold (``SIGVERIFY_GROW_MIN_DECISION=genuine``) or at least is not below
      the reject threshold (``refer``).

    The stored image is the signature box of the questioned image (the cheque around it left
    out), so preprocessing it again for another model version gives what the verification saw.
    ``read_image`` gives the questioned image's bytes (read only once the rules allow it).
    Nothing is stored unless it is added.
    """
    if not settings.SIGVERIFY_GROW_REFERENCES:
        return Growth(False, "policy_off", "The bank's policy does not add confirmed cheques to the references.")
    limit = int(settings.SIGVERIFY_MAX_REFERENCES)
    if selectors.active_reference_count(signer) >= limit:
        return Growth(False, "reference_cap", f"The signer already has the maximum of {limit} references.")
    if signer.references.filter(source_verification_id=verification_id).exists():
        return Growth(False, "already_reference", f"Verification {verification_id} is already a reference.")
    version = get_active_version()
    verifier = require_verifier(version)
    try:
        image_data = read_image()
    except OSError:
        logger.warning("verification %s: stored image unreadable, not added as a reference", verification_id)
        return Growth(False, "image_unreadable", "The stored image of the verification cannot be read.")
    data = cropped_png(image_data, crop) if crop else image_data
    digest = sha256_bytes(data)
    if signer.references.filter(sha256=digest).exists():
        return Growth(False, "duplicate", "This image is already enrolled for this signer.")
    try:
        array, quality = preprocess_bytes(data, version.input_size)
    except InvalidImage as exc:
        return Growth(False, exc.code, exc.message)
    vector = verifier.embed_arrays([array])[0]
    ids, existing = selectors.reference_embeddings(signer, version)
    if not len(existing):
        return Growth(False, "no_references", "The signer has no active reference to check it against.")
    scored = score_against(version, verifier, vector, existing, classifiers.classifier_for(signer, version, ids))
    needed = "accept" if settings.SIGVERIFY_GROW_MIN_DECISION == "genuine" else "reject"
    if scored.score < scored.thresholds[needed]:
        return Growth(
            False,
            "inconsistent",
            f"Not consistent enough with the {scored.references} references: score {scored.score:.3f}, "
            f"below the {needed} threshold {scored.thresholds[needed]:.3f}.",
            score=scored.score,
        )
    content_type, extension = sniff_image_type(data)
    candidate = _Candidate(
        f"verification-{verification_id}.{extension}", data, digest, content_type, extension, array, quality
    )
    with transaction.atomic():
        # The cap holds under concurrent reviews: the signer row serialises them.
        list(Signer.objects.select_for_update().filter(pk=signer.pk))
        if selectors.active_reference_count(signer) >= limit:
            return Growth(False, "reference_cap", f"The signer already has the maximum of {limit} references.")
        (reference,) = _store_references(
            signer,
            [candidate],
            [vector],
            [{}],
            version,
            user,
            source=ReferenceSignature.Source.CONFIRMED_CHEQUE,
            source_verification_id=verification_id,
        )
    refit_classifier_later(signer)
    return Growth(
        True,
        "added",
        f"Added as reference {reference.pk} ({scored.references + 1} references now).",
        reference=reference,
        score=scored.score,
    )


def references_embed_missing(version, batch_size: int = 64, progress=None) -> int:
    """Embed every reference that has no embedding for ``version``; returns how many.

    Used by bulk enrollment and by promotion (re-embedding for a new version). Idempotent.
    """
    from django.core.files.storage import default_storage

    from apps.modelregistry.serving import get_verifier

    verifier = get_verifier(version)
    pending = (
        selectors.embeddable_references()
        .exclude(embeddings__model_version=version)
        .order_by("id")
        .values_list("id", "image")
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
    "Growth",
    "ServiceError",
    "consistency_flags",
    "references_embed_missing",
    "references_enroll",
    "grow_from_confirmed_cheque",
    "reference_accept",
    "reference_delete",
    "reference_reject",
    "signer_create",
    "signer_set_status",
    "signer_update",
]
