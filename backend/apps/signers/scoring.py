"""One way to score a signature against a signer's references, so that a verification, the
consistency check of a newly enrolled reference and the check before a confirmed cheque joins the
references all use the same calibration and the same thresholds for the same R."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from django.conf import settings

from apps.modelregistry.serving import thresholds_in_force
from sigverify.scoring import decide


@dataclass
class Scored:
    score: float
    z: float
    references: int  # R: how many references it was compared with
    thresholds: dict  # the accept/reject thresholds in force for that R
    decision: str  # genuine, refer or forgery
    distances: list = field(default_factory=list)
    fused: bool = False  # whether a signer classifier's margin entered the score


def score_against(version, verifier, embedding, reference_matrix, classifier=None, cheque: bool = False) -> Scored:
    """Score ``embedding`` against the (R, D) ``reference_matrix`` under ``version`` (R >= 1);
    ``classifier``: the signer's own (``classifiers.classifier_for``), fused in where the version's
    calibration takes it; ``cheque``: the signature was cut from a whole cheque by the finder
    (decided with the version's cheque pair where it has one: ``thresholds_in_force``)."""
    matrix = np.asarray(reference_matrix)
    result = verifier.score(embedding, matrix, classifier=classifier)
    references = len(matrix)
    thresholds = thresholds_in_force(version, references=references, cheque=cheque)
    return Scored(
        score=float(result.score),
        z=float(result.z),
        references=references,
        thresholds=thresholds,
        decision=decide(result.score, thresholds["accept"], thresholds["reject"]),
        distances=list(result.distances),
        fused=bool(result.fused),
    )


def cheque_forgery_decides(version) -> bool:
    """Whether a forgery call on a signature the finder cut from a whole cheque decides: where the
    version has operating points fitted on such crops (its thresholds' ``cheque`` pair, which
    ``score_against(..., cheque=True)`` decides with), or the bank says so. At the clean-crop
    ``reject`` 2.5-12.5% of genuine cheque signatures scored as forgeries (issue 19)."""
    return bool((version.thresholds or {}).get("cheque")) or settings.SIGVERIFY_CHEQUE_FORGERY_DECIDES
