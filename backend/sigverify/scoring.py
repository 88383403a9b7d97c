"""From embeddings to a calibrated score in [0, 1] and a three-way decision.

The score of a questioned signature q against references r_1..r_R:

1. d_i = cosine distance(q, r_i); the raw distance is their mean.
2. Per-writer normalisation: a writer who signs inconsistently has references far apart,
   so the raw distance is z-normalised by the mean and spread of the reference-to-reference
   distances. With few references those statistics are noisy, so they are shrunk towards
   the population values measured on validation writers (``prior_mean``, ``prior_std``) with
   weight ``prior_pairs`` pairs: R=1 uses the population values alone.
3. z = (raw - mu) / sd; the calibrated score is a logistic function of -z fitted on
   validation writers (scikit-learn ``LogisticRegression``): higher means more likely genuine.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

DECISIONS = ("genuine", "refer", "forgery")


@dataclass
class ScoreModel:
    prior_mean: float = 0.3
    prior_std: float = 0.08
    prior_pairs: float = 3.0
    min_std: float = 0.02
    coef: float = 1.0  # logistic slope on -z
    intercept: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ScoreModel:
        return cls(**{k: float(v) for k, v in data.items() if k in cls.__dataclass_fields__})

    def reference_stats(self, ref_embeddings: np.ndarray) -> tuple[float, float]:
        """Shrunk (mean, std) of reference-to-reference cosine distances."""
        refs = np.asarray(ref_embeddings, dtype=np.float64)
        n = len(refs)
        if n >= 2:
            d = 1.0 - refs @ refs.T
            pairs = d[np.triu_indices(n, k=1)]
        else:
            pairs = np.empty(0)
        k = len(pairs)
        w = self.prior_pairs
        mean = (pairs.sum() + w * self.prior_mean) / (k + w)
        var_w = pairs.var() if k >= 2 else 0.0
        var = (k * var_w + w * self.prior_std**2) / (k + w)
        return float(mean), float(max(np.sqrt(var), self.min_std))

    def z_score(self, query_embedding: np.ndarray, ref_embeddings: np.ndarray) -> tuple[float, np.ndarray]:
        """(z, distances): z is how many spreads the query lies beyond the references."""
        refs = np.asarray(ref_embeddings, dtype=np.float64)
        distances = 1.0 - refs @ np.asarray(query_embedding, dtype=np.float64)
        mean, std = self.reference_stats(refs)
        return float((distances.mean() - mean) / std), distances

    def calibrate(self, z) -> np.ndarray:
        """Calibrated probability-like score in [0, 1]."""
        z = np.asarray(z, dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-(self.coef * -z + self.intercept)))

    def score(self, query_embedding, ref_embeddings) -> ScoreResult:
        z, distances = self.z_score(query_embedding, ref_embeddings)
        return ScoreResult(score=float(self.calibrate(z)), z=z, distances=distances.tolist())


@dataclass
class ScoreResult:
    score: float
    z: float
    distances: list = field(default_factory=list)


def decide(score: float, accept: float, reject: float) -> str:
    """genuine at or above ``accept``, forgery below ``reject``, refer to a human between."""
    if score >= accept:
        return "genuine"
    if score < reject:
        return "forgery"
    return "refer"


def fit_calibration(z_genuine, z_forged, base: ScoreModel) -> ScoreModel:
    """Fit the logistic map from -z to P(genuine) on validation writers (balanced classes)."""
    from sklearn.linear_model import LogisticRegression

    x = -np.r_[np.asarray(z_genuine), np.asarray(z_forged)].reshape(-1, 1)
    y = np.r_[np.ones(len(z_genuine)), np.zeros(len(z_forged))]
    clf = LogisticRegression(class_weight="balanced").fit(x, y)
    fitted = ScoreModel(**base.to_dict())
    fitted.coef = float(clf.coef_[0, 0])
    fitted.intercept = float(clf.intercept_[0])
    return fitted
