"""Each signer's own classifier (``sigverify.writer_dependent``), per model version.

A version whose card fuses a classifier's margin into its calibration (``ScoreModel.fused``) gets
one per signer: fitted on the signer's active references against a background of other people's
genuine signatures (the version's shipped ``background.safetensors`` plus the bank's other
signers' references): on a worker after the active references change (``tasks.refit_signer_classifier``,
queued by the services) and, for a new version, by its promotion (registered as a
``VersionPreparation`` in ``apps.py``). Fitting is deterministic, so removing a reference brings back
the classifier (and the decisions) of the set before it.

The fitted state is the ``SignerClassifier`` row: its ``reference_ids`` say which references it was
fitted on. ``classifier_for`` serves it only while those are the signer's active references; until the
queued refit has run, a verification is scored without it (``scoring_used`` tells which).
"""

from __future__ import annotations

import logging
import threading

import numpy as np
from django.db import transaction

from sigverify.errors import ModelLoadError
from sigverify.scoring import ScoreModel
from sigverify.writer_dependent import SignerClassifier as Fitted
from sigverify.writer_dependent import fit_signer_classifier, load_background

from . import selectors
from .models import ReferenceEmbedding, ReferenceSignature, Signer, SignerClassifier

logger = logging.getLogger(__name__)

# Other signers' references in the background: the first few of each, at most this many in all.
OTHERS_PER_SIGNER = 2
MAX_OTHERS = 4000

_backgrounds: dict[tuple[int, str], np.ndarray | None] = {}
_lock = threading.Lock()


def uses_signer_classifier(version) -> bool:
    return ScoreModel.fuses((version.card or {}).get("scoring"))


def _shipped_background(version) -> np.ndarray | None:
    key = (version.pk, version.sha256)
    with _lock:
        if key not in _backgrounds:
            try:
                _backgrounds[key] = load_background(version.weights_path, version.card)
            except ModelLoadError as exc:
                logger.error("version %s: no shipped background for signer classifiers: %s", version.name, exc)
                _backgrounds[key] = None
        return _backgrounds[key]


def _others(signer: Signer, version) -> np.ndarray:
    rows = (
        ReferenceEmbedding.objects.filter(model_version=version, reference__status=ReferenceSignature.Status.ACTIVE)
        .exclude(reference__signer=signer)
        .order_by("reference__signer_id", "reference_id")
        .values_list("reference__signer_id", "vector")
    )
    vectors, taken = [], {}
    for signer_id, vector in rows.iterator():
        if taken.get(signer_id, 0) < OTHERS_PER_SIGNER:
            taken[signer_id] = taken.get(signer_id, 0) + 1
            vectors.append(np.frombuffer(bytes(vector), dtype=np.float32))
            if len(vectors) >= MAX_OTHERS:
                break
    return np.stack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)


def refit(signer: Signer, version) -> SignerClassifier | None:
    """Fit (or clear) ``signer``'s classifier under ``version`` on the current active references."""
    if not uses_signer_classifier(version):
        return None
    ids, matrix = selectors.reference_embeddings(signer, version)
    if not ids:
        SignerClassifier.objects.filter(signer=signer, model_version=version).delete()
        return None
    parts = [p for p in (_shipped_background(version), _others(signer, version)) if p is not None and p.size]
    classifier, note = {}, ""
    if parts:
        background = np.concatenate(parts)
        classifier = fit_signer_classifier(matrix, background, model_sha256=version.sha256).to_dict()
    else:
        note = "no background: neither a shipped background nor other signers' references"
    row, _ = SignerClassifier.objects.update_or_create(
        signer=signer,
        model_version=version,
        defaults={"reference_ids": sorted(ids), "classifier": classifier, "note": note},
    )
    return row


def refit_queued(signer_id: int) -> str:
    """The queued refit (``tasks.refit_signer_classifier``): under the active version, on the signer's
    references as they are now. The signer row is locked meanwhile, so two refits of one signer
    cannot finish out of order and leave the older fit."""
    from apps.modelregistry.selectors import get_active_version

    with transaction.atomic():
        signer = Signer.objects.select_for_update().filter(pk=signer_id).first()
        if signer is None:
            return "no such signer"
        version = get_active_version()
        if version is None or not uses_signer_classifier(version):
            return "no classifier to fit"
        row = refit(signer, version)
    return "fitted" if row is not None and row.classifier else "cleared"


# How a verification was scored (``Verification.scoring``).
SIGNER_CLASSIFIER = "signer_classifier"  # the signer's own classifier fused into the score
WRITER_INDEPENDENT = "writer_independent"  # the version fuses none: distances only
PENDING_FALLBACK = "writer_independent_pending"  # the version fuses one, but none is fitted on these references yet


def scoring_used(version, classifier: Fitted | None, fused: bool) -> str:
    """Which score a verification got: with the signer's classifier, without one because the version
    uses none, or without one because the refit for the current references has not run yet."""
    if classifier is not None and fused:
        return SIGNER_CLASSIFIER
    return PENDING_FALLBACK if uses_signer_classifier(version) else WRITER_INDEPENDENT


def classifier_for(signer: Signer, version, reference_ids) -> Fitted | None:
    """The signer's classifier under ``version`` if it was fitted on exactly ``reference_ids``."""
    if not uses_signer_classifier(version):
        return None
    row = SignerClassifier.objects.filter(signer=signer, model_version=version).first()
    if row is None or not row.classifier or row.reference_ids != sorted(reference_ids):
        return None
    return Fitted.from_dict(row.classifier)


# --- promotion: a version that uses signer classifiers serves once every signer has one --------------


def _signers_with_references():
    return Signer.objects.filter(references__status=ReferenceSignature.Status.ACTIVE).distinct()


def _current(version) -> set[int]:
    """Signers whose classifier under ``version`` was fitted on their current active references."""
    active: dict[int, list[int]] = {}
    for signer_id, ref_id in (
        ReferenceSignature.objects.filter(status=ReferenceSignature.Status.ACTIVE)
        .order_by("signer_id", "id")
        .values_list("signer_id", "id")
    ):
        active.setdefault(signer_id, []).append(ref_id)
    return {
        signer_id
        for signer_id, ids in SignerClassifier.objects.filter(model_version=version).values_list(
            "signer_id", "reference_ids"
        )
        if active.get(signer_id) == ids
    }


def classifier_missing(version) -> list[int]:
    if not uses_signer_classifier(version):
        return []
    current = _current(version)
    return [pk for pk in _signers_with_references().values_list("pk", flat=True) if pk not in current]


def prepare_classifiers(version, progress=None) -> int:
    missing = classifier_missing(version)
    for done, signer in enumerate(Signer.objects.filter(pk__in=missing).order_by("pk"), start=1):
        refit(signer, version)
        if progress:
            progress(done, len(missing))
    return len(missing)
