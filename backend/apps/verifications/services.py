"""Verifying a questioned signature and recording the human review."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from apps.core.exceptions import Conflict, ServiceError
from apps.core.files import save_with_file
from apps.core.images import (
    decode_bytes,
    preprocess_decoded,
    read_upload,
    sha256_bytes,
    sniff_image_type,
)
from apps.modelregistry.selectors import get_active_version
from apps.modelregistry.serving import require_verifier
from apps.signers.classifiers import classifier_for, scoring_used
from apps.signers.models import Signer
from apps.signers.scoring import cheque_forgery_decides, score_against
from apps.signers.selectors import reference_embeddings
from apps.signers.services import grow_from_confirmed_cheque
from sigverify.cheque import find_signature_region
from sigverify.quality import describe
from sigverify.signature_finder import find_signatures

from .models import Decision, Review, Verification

logger = logging.getLogger(__name__)


def signature_region_propose(*, image) -> dict:
    """Where the signature probably is on a whole-cheque scan (page 1 of a multi-page TIFF):
    the box to start from, in the image's pixels, as ``crop`` for ``verification_create``.
    Stores nothing. Raises ``InvalidImage`` for an image a verification would refuse."""
    picture = decode_bytes(read_upload(image))
    found = find_signatures(picture)
    region = find_signature_region(picture, found)
    x, y, width, height = region.box
    return {
        "crop": {"x": x, "y": y, "width": width, "height": height},
        "image_width": picture.width,
        "image_height": picture.height,
        "found": region.found,
        "code_line_top": region.code_line_top,
        "signatures": [
            {"box": dict(zip(("x", "y", "width", "height"), one.box, strict=True)), "confidence": one.confidence}
            for one in found
        ],
    }


def image_quality_reason(quality: dict) -> dict | None:
    """The ``reason`` of a verification whose image failed a quality check (preprocessing
    recorded which in ``checks_failed``), or None when the image is usable."""
    failed = list(quality.get("checks_failed") or [])
    if not failed:
        return None
    return {"code": "image_quality", "checks": failed, "message": describe(failed)}


CHEQUE_FORGERY_REASON = {
    "code": "whole_cheque",
    "checks": [],
    "message": "It scored as a forgery, but the box was found on a whole cheque and the model version has no "
    "operating points fitted on cheques: a person checks it (SIGVERIFY_CHEQUE_FORGERY_DECIDES).",
}


@dataclass(frozen=True)
class ScoringContext:
    """What scoring a questioned signature of one signer needs, read once (a batch chunk shares it
    between that signer's items): the active version, its verifier, the references and classifier."""

    version: object
    verifier: object
    reference_ids: list
    reference_matrix: object
    classifier: object


def verification_context(*, signer: Signer, version=None) -> ScoringContext:
    """The cheap checks before any image work (signer state, a servable model, references for the
    active version), and what scoring needs. Raises ``Conflict`` or ``ServiceUnavailable``."""
    if signer.status == Signer.Status.SUSPENDED:
        raise Conflict(
            f"Signer {signer.external_id} is suspended; verifications are refused until reactivated.",
            code="signer_suspended",
        )
    version = version or get_active_version()
    verifier = require_verifier(version)
    reference_ids, reference_matrix = reference_embeddings(signer, version)
    if not reference_ids:
        has_any = signer.references.exists()
        raise Conflict(
            f"Signer {signer.external_id} has no reference signatures"
            + (f" embedded by the active model version {version.name}" if has_any else "")
            + "; enroll references first.",
            code="no_references",
        )
    classifier = classifier_for(signer, version, reference_ids)
    return ScoringContext(version, verifier, reference_ids, reference_matrix, classifier)


def verification_preprocess(data: bytes, input_size, crop=None):
    """(array, quality, crop used). ``crop`` "auto" (batch items): the signature box that
    ``find_signature_region`` finds on the cheque, recorded as the crop. Where the finder finds
    no signature that box is the layout rule's guess, and the quality check ``not_found`` fails,
    so the item is referred for a clerk to draw the box (on generated cheques the rule's box held
    the amount, the code line and the border). Raises ``InvalidImage``."""
    image = decode_bytes(data)  # once, also where the signature is searched for first
    found = None
    if crop == "auto":
        found = find_signatures(image)
        crop = [int(v) for v in find_signature_region(image, found).box]
    array, quality = preprocess_decoded(image, input_size, crop=crop)
    if found == []:
        quality = {**quality, "checks_failed": [*quality.get("checks_failed", []), "not_found"]}
    return array, quality, crop


def verification_build(
    *,
    signer: Signer,
    context: ScoringContext,
    data: bytes,
    embedding,
    quality: dict,
    crop=None,
    cheque_reference: str = "",
    user=None,
    batch=None,
    found_on_cheque: bool = False,
) -> Verification:
    """The unsaved verification row of one embedded image: score, decision and what it used.
    An image that failed a quality check is decided ``refer`` (``reason.code`` ``image_quality``).
    A box the finder took from a whole cheque (``found_on_cheque``: the crop was "auto") is decided
    with the version's cheque pair; where the version has none, a forgery call on it is referred
    (``reason.code`` ``whole_cheque``) unless the bank lets it decide."""
    result = score_against(
        context.version,
        context.verifier,
        embedding,
        context.reference_matrix,
        context.classifier,
        cheque=found_on_cheque,
    )
    decision = result.decision
    reason = image_quality_reason(quality)
    if reason is not None:  # an unusable image is never answered genuine or forgery
        decision = Decision.REFER
    elif found_on_cheque and decision == Decision.FORGERY and not cheque_forgery_decides(context.version):
        decision, reason = Decision.REFER, dict(CHEQUE_FORGERY_REASON)
    distances = [
        {"reference": ref_id, "distance": round(float(d), 6)}
        for ref_id, d in zip(context.reference_ids, result.distances, strict=True)
    ]
    return Verification(
        signer=signer,
        image_sha256=sha256_bytes(data),
        crop=list(crop) if crop else None,
        cheque_reference=cheque_reference or "",
        score=float(result.score),
        z_score=float(result.z),
        distances=distances,
        decision=decision,
        reason=reason,
        thresholds=result.thresholds,  # what this decision used
        reference_count=result.references,
        scoring=scoring_used(context.version, context.classifier, result.fused),
        quality=quality,
        model_version=context.version,
        requested_by=user if (user is not None and user.is_authenticated) else None,
        processing_ms=0,
        batch=batch,
    )


def image_filename(verification: Verification, data: bytes) -> str:
    _, extension = sniff_image_type(data)
    return f"{verification.image_sha256}.{extension}"


def verification_create(
    *, signer: Signer, image, crop=None, cheque_reference: str = "", user=None, batch=None
) -> Verification:
    """Score a questioned signature against the signer's references and log the result.

    Order: cheap checks first (``verification_context``), then the image (decode + preprocess),
    one forward pass, the score and the decision (``verification_build``). The image file and the
    row are stored together: on any failure neither remains. ``batch``: the verification batch
    this is an item of, recorded on the row (a batch run itself goes through ``batch_runs``, which
    embeds a chunk of items per forward pass with these same steps).
    """
    started = time.perf_counter()
    context = verification_context(signer=signer)
    data = read_upload(image)
    found_on_cheque = crop == "auto"
    array, quality, crop = verification_preprocess(data, context.version.input_size, crop)
    embedding = context.verifier.embed_arrays([array])[0]
    verification = verification_build(
        signer=signer,
        context=context,
        data=data,
        embedding=embedding,
        quality=quality,
        crop=crop,
        cheque_reference=cheque_reference,
        user=user,
        batch=batch,
        found_on_cheque=found_on_cheque,
    )
    save_with_file(verification, "image", image_filename(verification, data), data, started=started)
    return verification


class CommentRequired(ServiceError):
    """A review that overrules the model needs a comment saying why (400, on ``comment``)."""

    default_code = "comment_required"
    default_message = "A comment is required when the review overrules the model's decision."

    def __init__(self):
        super().__init__(fields={"comment": [self.default_message]})


def overrules_model(verification: Verification, final_decision: str) -> bool:
    """A final call against a genuine/forgery answer; after a referral every call is the human's."""
    return verification.decision in (Decision.GENUINE, Decision.FORGERY) and final_decision != verification.decision


def review_check(*, verification: Verification, final_decision: str, comment: str = "") -> None:
    """The review rules, for callers that validate before saving (the admin form).

    Raises ``Conflict`` (already reviewed), ``ServiceError`` (not genuine/forgery) or
    ``CommentRequired``.
    """
    if Review.objects.filter(verification=verification).exists():
        raise Conflict("This verification already has a review.", code="already_reviewed")
    if final_decision not in Review.FinalDecision.values:
        raise ServiceError(
            "The final decision must be genuine or forgery.",
            code="validation_error",
            fields={"final_decision": ["Choose genuine or forgery."]},
        )
    if overrules_model(verification, final_decision) and not (comment or "").strip():
        raise CommentRequired()


def review_create(*, verification: Verification, reviewer, final_decision: str, comment: str = "") -> Review:
    """The human's final call. One review per verification; the model's answer is untouched.
    Overruling the model needs a comment (``CommentRequired``), from the API, the admin or
    the interface alike. A genuine call may add the signature to the signer's references
    (``grow_references``); what became of it is kept on the review (``reference_growth``)."""
    review_check(verification=verification, final_decision=final_decision, comment=comment)
    try:
        with transaction.atomic():
            review = Review.objects.create(
                verification=verification, reviewer=reviewer, final_decision=final_decision, comment=comment or ""
            )
    except IntegrityError as exc:
        raise Conflict("This verification already has a review.", code="already_reviewed") from exc
    if final_decision == Review.FinalDecision.GENUINE:
        review.reference_growth = grow_references(verification, reviewer)
        review.save(update_fields=["reference_growth"])
    return review


def grow_references(verification: Verification, user=None) -> dict:
    """Offer a signature confirmed genuine to the signer's references (the rules are
    ``signers.services.grow_from_confirmed_cheque``'s). The review stands whatever happens here:
    a refusal, or a model that cannot load now, is the answer's ``code`` and ``message``."""

    def read_image() -> bytes:
        with default_storage.open(verification.image.name, "rb") as fh:
            return fh.read()

    if verification.reason and verification.reason.get("code") == "image_quality":
        return {
            "added": False,
            "code": "image_quality",
            "message": "The image failed a quality check; it is not added to the references.",
        }
    try:
        growth = grow_from_confirmed_cheque(
            signer=verification.signer,
            read_image=read_image,
            crop=verification.crop,
            verification_id=verification.pk,
            user=user,
        )
    except ServiceError as exc:
        return {"added": False, "code": exc.code, "message": exc.message}
    return growth.as_dict()
