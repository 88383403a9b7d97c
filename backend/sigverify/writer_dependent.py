"""A classifier per signer over the embeddings, fused with the writer-independent score.

The shipped score compares a questioned signature with the signer's references only. A signer's
own classifier also knows what the signer's signature is *not*: a linear SVM (scikit-learn
``LinearSVC``) fitted on the signer's reference embeddings against a background of other people's
genuine signatures (the bank's other enrolled signers, plus ``background.safetensors``: two
embeddings per training writer, shipped with each model version, derived numbers, not pixels). Its
decision value (the ``margin``, higher = more like the signer) enters the calibrated score as a
second input of the logistic map of the signer's reference count (``ScoreModel.calibrate(z, R,
margin)``, fitted on validation writers by ``sigverify publish``).

Service use (pure functions, no Django, no torch)::

    background = load_background(version_dir, card)              # (N, D) float32, sha256-checked
    others = <reference embeddings of the bank's other signers>   # (M, D), may be empty
    clf = fit_signer_classifier(references, np.concatenate([background, others]))
    row.classifier = clf.to_dict()                                  # JSON-safe floats for the DB
    ...
    result = fused_score(query, references, verifier.scorer, SignerClassifier.from_dict(row.classifier))
    result.score, result.references, result.margin

Refit whenever the signer's references change and when another model version is promoted
(embeddings, background and calibration all belong to one version: ``clf.model_sha256``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ModelLoadError
from .scoring import ScoreModel, ScoreResult

BACKGROUND_FILE = "background.safetensors"
BACKGROUND_PER_WRITER = 2
# LinearSVC regularisation: measured on validation writers (model_notebooks/RECIPE_EXPERIMENTS.md).
DEFAULT_C = 1.0


@dataclass
class SignerClassifier:
    """A linear decision function over unit embeddings: ``margin = embedding @ weights + bias``."""

    weights: np.ndarray
    bias: float
    references: int = 0  # reference embeddings it was fitted on
    negatives: int = 0  # background embeddings it was fitted against
    augmented: int = 0  # synthetic duplicates of the references among its positives
    model_sha256: str = ""  # the model version whose embeddings it separates
    meta: dict = field(default_factory=dict)

    def decision(self, embeddings) -> np.ndarray:
        """Margins of (N, D) embeddings (a (D,) vector gives one): higher = more like the signer."""
        x = np.atleast_2d(np.asarray(embeddings, dtype=np.float64))
        return x @ self.weights + self.bias

    def to_dict(self) -> dict:
        """JSON-safe: lists of floats and numbers only (a ``JSONField`` stores it as is)."""
        return {
            "weights": [float(v) for v in self.weights],
            "bias": float(self.bias),
            "references": int(self.references),
            "negatives": int(self.negatives),
            "augmented": int(self.augmented),
            "model_sha256": self.model_sha256,
        }

    @classmethod
    def from_dict(cls, data: dict) -> SignerClassifier:
        try:
            weights = np.asarray(data["weights"], dtype=np.float64)
            bias = float(data["bias"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a signer classifier: {exc}") from exc
        if weights.ndim != 1 or not len(weights) or not np.all(np.isfinite(weights)) or not np.isfinite(bias):
            raise ValueError("a signer classifier needs finite weights (one per embedding dimension) and bias")
        return cls(
            weights=weights,
            bias=bias,
            references=int(data.get("references", 0)),
            negatives=int(data.get("negatives", 0)),
            augmented=int(data.get("augmented", 0)),
            model_sha256=str(data.get("model_sha256", "")),
        )


def fit_signer_classifier(
    reference_embeddings,
    background_embeddings,
    extra_positives=None,
    c: float = DEFAULT_C,
    model_sha256: str = "",
) -> SignerClassifier:
    """A linear SVM: the signer's references (+ ``extra_positives``, e.g. embeddings of synthetic
    duplicates) against ``background_embeddings`` (other people's genuine signatures), classes
    balanced. Deterministic. Raises ``ValueError`` without a reference or a background embedding."""
    from sklearn.svm import LinearSVC

    positives = np.atleast_2d(np.asarray(reference_embeddings, dtype=np.float64))
    negatives = np.atleast_2d(np.asarray(background_embeddings, dtype=np.float64))
    if positives.size == 0 or negatives.size == 0:
        raise ValueError("a signer classifier needs at least one reference and one background embedding")
    if positives.shape[1] != negatives.shape[1]:
        raise ValueError(f"embedding sizes differ: references {positives.shape[1]}, background {negatives.shape[1]}")
    augmented = 0
    if extra_positives is not None and len(extra_positives):
        extra = np.atleast_2d(np.asarray(extra_positives, dtype=np.float64))
        augmented = len(extra)
        positives = np.concatenate([positives, extra])
    x = np.concatenate([positives, negatives])
    y = np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
    svm = LinearSVC(C=c, class_weight="balanced", max_iter=5000).fit(x, y)
    return SignerClassifier(
        weights=svm.coef_[0].astype(np.float64),
        bias=float(svm.intercept_[0]),
        references=len(positives) - augmented,
        negatives=len(negatives),
        augmented=augmented,
        model_sha256=model_sha256,
    )


def fused_score(
    query_embedding, reference_embeddings, scorer: ScoreModel, classifier: SignerClassifier | None
) -> ScoreResult:
    """The calibrated score of one query at the signer's R, with the classifier's margin fused in
    where the card's calibration is fused (``scorer.fused``). Without a classifier: the
    distance-only score of that R. ``result.references`` is the R used, ``result.bucket`` the
    calibration's R, ``result.margin`` the classifier's decision value."""
    return scorer.score(query_embedding, reference_embeddings, classifier=classifier)


def load_background(directory, card) -> np.ndarray | None:
    """The shipped background embeddings of a model dir ((N, D) float32), checked against the card's
    sha256 (``card["background"]`` / ``ModelCard.background``); None when the card ships none."""
    entry = card.get("background") if isinstance(card, dict) else getattr(card, "background", None)
    if entry is None:
        return None
    entry = entry if isinstance(entry, dict) else entry.model_dump()
    path = Path(directory) / entry["file"]
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"cannot read the background embeddings {path}: {exc.strerror or exc}") from exc
    if entry.get("sha256") and hashlib.sha256(raw).hexdigest() != entry["sha256"]:
        raise ModelLoadError(f"the background embeddings {path} do not match the sha256 in the model card")
    from safetensors.numpy import load

    try:
        return np.asarray(load(raw)["embeddings"], dtype=np.float32)
    except Exception as exc:  # safetensors raises several types for a damaged file
        raise ModelLoadError(f"cannot load the background embeddings {path}: {exc}") from exc


def write_background(directory, embeddings, writers: list[str]) -> dict:
    """Write ``background.safetensors`` (``.part`` then rename); returns the card's ``background`` entry."""
    import os

    from safetensors.numpy import save

    directory = Path(directory)
    raw = save({"embeddings": np.ascontiguousarray(np.asarray(embeddings, dtype=np.float32))})
    part = directory / (BACKGROUND_FILE + ".part")
    part.write_bytes(raw)
    os.replace(part, directory / BACKGROUND_FILE)
    return {
        "file": BACKGROUND_FILE,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "embeddings": int(len(embeddings)),
        "writers": len(writers),
        "per_writer": BACKGROUND_PER_WRITER,
    }
