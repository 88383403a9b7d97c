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

The calibration depends on R: one logistic map per reference count in ``REFERENCE_BUCKETS``
(``by_references``), the bucket of a signer with R references being the largest fitted count at
or below R (``reference_bucket``). A map may also take the margin of the signer's own classifier
(``sigverify.writer_dependent``) as a second input (``fused``). A score model without
``by_references`` (older cards) uses its single ``coef``/``intercept`` for every R.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

DECISIONS = ("genuine", "refer", "forgery")
# The reference counts that get their own calibration and operating points; a signer with R
# references uses the largest at or below R (12 for more than 12, 1 for none).
REFERENCE_BUCKETS = (1, 2, 3, 4, 5, 6, 8, 10, 12)


def reference_bucket(references: int, buckets=REFERENCE_BUCKETS) -> int:
    """The fitted reference count whose calibration and thresholds serve a signer with ``references``."""
    buckets = sorted(int(b) for b in buckets)
    if not buckets:
        raise ValueError("no reference buckets")
    below = [b for b in buckets if b <= int(references)]
    return below[-1] if below else buckets[0]


@dataclass
class Calibration:
    """The logistic map of one reference count: logit = coef * -z + intercept (+ wd_coef * margin)."""

    coef: float = 1.0
    intercept: float = 0.0
    wd_coef: float = 0.0  # weight of the signer classifier's margin; 0 for the distance-only map

    def logit(self, z, margin=None) -> np.ndarray:
        out = self.coef * -np.asarray(z, dtype=np.float64) + self.intercept
        if margin is not None and self.wd_coef:
            out = out + self.wd_coef * np.asarray(margin, dtype=np.float64)
        return out

    def to_dict(self) -> dict:
        return {k: float(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        return cls(**{k: float(v) for k, v in (data or {}).items() if k in cls.__dataclass_fields__})


@dataclass
class ScoreModel:
    prior_mean: float = 0.3
    prior_std: float = 0.08
    prior_pairs: float = 3.0
    min_std: float = 0.02
    coef: float = 1.0  # logistic slope on -z (every R, where ``by_references`` is empty)
    intercept: float = 0.0
    # str(R) -> {"coef", "intercept", optionally "fused": {"coef", "intercept", "wd_coef"}}
    by_references: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = {k: float(getattr(self, k)) for k in self.__dataclass_fields__ if k != "by_references"}
        if self.by_references:
            out["by_references"] = {str(k): v for k, v in sorted(self.by_references.items(), key=lambda kv: int(kv[0]))}
        return out

    @classmethod
    def from_dict(cls, data: dict) -> ScoreModel:
        data = data or {}
        plain = {k: float(v) for k, v in data.items() if k in cls.__dataclass_fields__ and k != "by_references"}
        by_references = {
            str(int(r)): _calibration_entry(entry) for r, entry in (data.get("by_references") or {}).items()
        }
        return cls(**plain, by_references=by_references)

    @property
    def buckets(self) -> tuple[int, ...]:
        """The reference counts with a calibration of their own (empty: one map for every R)."""
        return tuple(sorted(int(r) for r in self.by_references))

    @property
    def fused(self) -> bool:
        """Whether the calibration takes a signer classifier's margin (``sigverify.writer_dependent``)."""
        return self.fuses({"by_references": self.by_references})

    @staticmethod
    def fuses(data: dict | None) -> bool:
        """``from_dict(data).fused`` read off the stored dict without building its calibrations
        (asked on every verification)."""
        return any(entry.get("fused") for entry in ((data or {}).get("by_references") or {}).values())

    def calibration(self, references: int | None = None, fused: bool = False) -> Calibration:
        """The logistic map for a signer with ``references`` references (None: the single map).

        ``fused``: the map that also takes the classifier's margin, where the card has one."""
        if references is None or not self.by_references:
            return Calibration(coef=self.coef, intercept=self.intercept)
        entry = self.by_references[str(reference_bucket(references, self.buckets))]
        if fused and "fused" in entry:
            return Calibration.from_dict(entry["fused"])
        return Calibration(coef=float(entry["coef"]), intercept=float(entry["intercept"]))

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

    def calibrate(self, z, references: int | None = None, margin=None) -> np.ndarray:
        """Calibrated probability-like score in [0, 1] for ``references`` references (None: the single map).

        ``margin``: the signer classifier's decision values for the same queries, used where the
        card's calibration is fused; without one the distance-only map of that R is used."""
        calibration = self.calibration(references, fused=margin is not None)
        return 1.0 / (1.0 + np.exp(-calibration.logit(z, margin)))

    def score(self, query_embedding, ref_embeddings, classifier=None) -> ScoreResult:
        """The calibrated score at the signer's own R (``len(ref_embeddings)``).

        ``classifier``: the signer's ``writer_dependent.SignerClassifier``; its margin enters the
        score where the calibration is fused, and is reported either way."""
        z, distances = self.z_score(query_embedding, ref_embeddings)
        references = len(ref_embeddings)
        margin = None
        if classifier is not None:
            margin = float(classifier.decision(np.asarray(query_embedding)[None, :])[0])
        fused = margin is not None and self.fused
        score = self.calibrate(z, references, margin if fused else None)
        return ScoreResult(
            score=float(score),
            z=z,
            distances=distances.tolist(),
            references=references,
            bucket=reference_bucket(references, self.buckets) if self.by_references else None,
            margin=margin,
            fused=fused,
        )


def _calibration_entry(entry: dict) -> dict:
    out = {"coef": float(entry["coef"]), "intercept": float(entry["intercept"])}
    if entry.get("fused"):
        out["fused"] = Calibration.from_dict(entry["fused"]).to_dict()
    return out


@dataclass
class ScoreResult:
    score: float
    z: float
    distances: list = field(default_factory=list)
    references: int = 0  # R, the number of references scored against
    bucket: int | None = None  # the R whose calibration was used (None: the single map of an older card)
    margin: float | None = None  # the signer classifier's decision value, where there is one
    fused: bool = False  # whether the margin entered the score


def decide(score: float, accept: float, reject: float) -> str:
    """genuine at or above ``accept``, forgery below ``reject``, refer to a human between."""
    if score >= accept:
        return "genuine"
    if score < reject:
        return "forgery"
    return "refer"


def fit_calibration(z_genuine, z_forged, base: ScoreModel) -> ScoreModel:
    """Fit the logistic map from -z to P(genuine) on validation writers (balanced classes)."""
    single = fit_logistic(z_genuine, z_forged)
    fitted = ScoreModel.from_dict(base.to_dict())
    fitted.coef, fitted.intercept = single.coef, single.intercept
    return fitted


def fit_logistic(z_genuine, z_forged, margin_genuine=None, margin_forged=None) -> Calibration:
    """The logistic map from -z (and the classifier margin, when given) to P(genuine), balanced classes."""
    from sklearn.linear_model import LogisticRegression

    x = -np.r_[np.asarray(z_genuine, dtype=np.float64), np.asarray(z_forged, dtype=np.float64)].reshape(-1, 1)
    if margin_genuine is not None:
        margins = np.r_[np.asarray(margin_genuine, dtype=np.float64), np.asarray(margin_forged, dtype=np.float64)]
        x = np.c_[x, margins]
    y = np.r_[np.ones(len(z_genuine)), np.zeros(len(z_forged))]
    clf = LogisticRegression(class_weight="balanced").fit(x, y)
    return Calibration(
        coef=float(clf.coef_[0, 0]),
        intercept=float(clf.intercept_[0]),
        wd_coef=float(clf.coef_[0, 1]) if margin_genuine is not None else 0.0,
    )
