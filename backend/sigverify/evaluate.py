"""Writer-independent evaluation protocol, calibration fitting and the evaluation report.

Protocol, for each writer W with R references:
- references: W's first R genuine samples by sample number;
- positive queries: W's other genuine samples;
- skilled negatives: all of W's skilled forgeries;
- random negatives: one genuine sample (the lowest-numbered) of every other writer.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from . import metrics
from .scoring import REFERENCE_BUCKETS, ScoreModel, fit_calibration, fit_logistic

CALIBRATION_REFERENCES = (1, 2, 3, 5)
THRESHOLD_REFERENCES = 5
ACCEPT_FAR = 0.01
REJECT_FRR = 0.01


@dataclass
class ProtocolScores:
    """z-scores per writer for the three query kinds (lower z = closer to the references)."""

    references: int
    genuine: dict = field(default_factory=lambda: defaultdict(list))
    skilled: dict = field(default_factory=lambda: defaultdict(list))
    random: dict = field(default_factory=lambda: defaultdict(list))
    # kind -> writer -> the signer classifier's margins of the same queries (empty without classifiers)
    margins: dict = field(default_factory=dict)

    def flat(self, kind: str) -> np.ndarray:
        values = [v for vs in getattr(self, kind).values() for v in vs]
        return np.asarray(values, dtype=np.float64)

    def flat_margins(self, kind: str) -> np.ndarray | None:
        if not self.margins:
            return None
        by_writer = self.margins.get(kind, {})
        return np.asarray([v for w in getattr(self, kind) for v in by_writer.get(w, ())], dtype=np.float64)

    def calibrated(self, scorer: ScoreModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(genuine, skilled, random) scores in [0, 1] at this R, every writer's queries together."""
        return tuple(self.calibrated_kind(scorer, k) for k in ("genuine", "skilled", "random"))

    def calibrated_kind(self, scorer: ScoreModel, kind: str) -> np.ndarray:
        return scorer.calibrate(self.flat(kind), self.references, self.flat_margins(kind))

    def calibrated_by_writer(self, scorer: ScoreModel, kind: str) -> dict:
        margins = self.margins.get(kind, {}) if self.margins else {}
        return {
            w: scorer.calibrate(v, self.references, margins[w] if w in margins else None)
            for w, v in getattr(self, kind).items()
        }


def group_by_writer(writers, labels, numbers) -> dict:
    """writer -> {"genuine": [indices sorted by sample], "forged": [...]}"""
    groups = defaultdict(lambda: {"genuine": [], "forged": []})
    for i, (w, lab) in enumerate(zip(writers, labels, strict=True)):
        groups[w][lab].append(i)
    for g in groups.values():
        for lab in g:
            g[lab].sort(key=lambda i: numbers[i])
    return dict(groups)


def protocol_queries(groups: dict, references: int):
    """Per writer with a positive query left: (writer, references, genuine, skilled, random) index lists."""
    random_probe = {w: g["genuine"][0] for w, g in groups.items() if g["genuine"]}
    for w, g in groups.items():
        gen = g["genuine"]
        if len(gen) <= references:
            continue  # no positive query left for this writer
        others = [i for other, i in random_probe.items() if other != w]
        yield w, gen[:references], gen[references:], g["forged"], others


def protocol_scores(
    embeddings: np.ndarray, groups: dict, references: int, scorer: ScoreModel, background: np.ndarray | None = None
) -> ProtocolScores:
    """z of every protocol query; with ``background`` (other people's genuine embeddings) also the margin
    of a classifier fitted per writer on its references against it (``writer_dependent``)."""
    from .writer_dependent import fit_signer_classifier

    out = ProtocolScores(references)
    if background is not None:
        out.margins = {"genuine": {}, "skilled": {}, "random": {}}
    for w, ref_idx, genuine, skilled, random in protocol_queries(groups, references):
        refs = embeddings[ref_idx]
        mean, std = scorer.reference_stats(refs)

        def z_of(idx, refs=refs, mean=mean, std=std):
            d = 1.0 - embeddings[idx] @ refs.T  # (n, R)
            return ((d.mean(axis=1) - mean) / std).tolist()

        classifier = fit_signer_classifier(refs, background) if background is not None else None
        for kind, idx in (("genuine", genuine), ("skilled", skilled), ("random", random)):
            if idx or kind == "genuine":
                getattr(out, kind)[w] = z_of(idx)
                if classifier is not None:
                    out.margins[kind][w] = classifier.decision(embeddings[idx]).tolist()
    return out


def reference_priors(embeddings: np.ndarray, groups: dict, references: int = THRESHOLD_REFERENCES) -> dict:
    """Population mean and std of reference-to-reference distances (the scorer's priors)."""
    pair_means, pair_stds = [], []
    for g in groups.values():
        refs = embeddings[g["genuine"][:references]]
        if len(refs) >= 2:
            d = 1.0 - refs @ refs.T
            pairs = d[np.triu_indices(len(refs), k=1)]
            pair_means.append(pairs.mean())
            pair_stds.append(pairs.std() if len(pairs) > 1 else 0.0)
    if not pair_means:
        return {}
    return {
        "prior_mean": float(np.mean(pair_means)),
        "prior_std": float(max(np.mean(pair_stds), 1e-3)),
        "min_std": float(max(np.percentile(pair_stds, 10), 1e-3)),
    }


def fit_scorer(embeddings: np.ndarray, groups: dict) -> ScoreModel:
    """Priors from validation writers, then a logistic calibration pooled over R in 1, 2, 3, 5."""
    base = ScoreModel(**{**ScoreModel().to_dict(), **reference_priors(embeddings, groups)})
    z_gen, z_forg = [], []
    for r in CALIBRATION_REFERENCES:
        ps = protocol_scores(embeddings, groups, r, base)
        z_gen.append(ps.flat("genuine"))
        z_forg.append(ps.flat("skilled"))
    z_gen, z_forg = np.concatenate(z_gen), np.concatenate(z_forg)
    if len(z_gen) == 0 or len(z_forg) == 0:
        return base
    return fit_calibration(z_gen, z_forg, base)


def fit_scorer_by_references(
    embeddings: np.ndarray,
    groups: dict,
    scorer: ScoreModel,
    references=REFERENCE_BUCKETS,
    background: np.ndarray | None = None,
) -> ScoreModel:
    """``scorer`` (its priors kept) with one logistic map per R fitted on these (validation) writers,
    genuine against skilled forgeries, balanced; with ``background`` each R also gets the map fused
    with the signer classifier's margin. R without a writer left to query keep the single map."""
    fitted = ScoreModel.from_dict({**scorer.to_dict(), "by_references": {}})
    for r in references:
        ps = protocol_scores(embeddings, groups, r, scorer, background)
        z_gen, z_forg = ps.flat("genuine"), ps.flat("skilled")
        if len(z_gen) == 0 or len(z_forg) == 0:
            entry = {"coef": scorer.coef, "intercept": scorer.intercept}
        else:
            entry = fit_logistic(z_gen, z_forg).to_dict()
            entry.pop("wd_coef")
            if background is not None:
                entry["fused"] = fit_logistic(
                    z_gen, z_forg, ps.flat_margins("genuine"), ps.flat_margins("skilled")
                ).to_dict()
        fitted.by_references[str(r)] = entry
    return fitted


def operating_points(embeddings: np.ndarray, groups: dict, scorer: ScoreModel) -> dict:
    """Thresholds on the calibrated score at R=5: EER, accept (1% FAR skilled), reject (1% FRR)."""
    ps = protocol_scores(embeddings, groups, THRESHOLD_REFERENCES, scorer)
    gen = ps.calibrated_kind(scorer, "genuine")
    skl = ps.calibrated_kind(scorer, "skilled")
    _, eer_threshold = metrics.eer(gen, skl)
    accept = metrics.threshold_at_far(skl, ACCEPT_FAR)
    reject = metrics.threshold_at_frr(gen, REJECT_FRR)
    return {
        "eer": float(eer_threshold),
        "accept": float(accept),
        "reject": float(min(reject, accept)),
        "references": THRESHOLD_REFERENCES,
        "accept_far_skilled": ACCEPT_FAR,
        "reject_frr": REJECT_FRR,
    }


def summarise(ps: ProtocolScores, scorer: ScoreModel, threshold: float | None = None) -> dict:
    """The evaluation figures for one R (EERs as fractions)."""
    gen, skl, rnd = ps.calibrated(scorer)
    skilled_eer, skilled_thr = metrics.eer(gen, skl)
    random_eer, _ = metrics.eer(gen, rnd)
    by_writer_gen = ps.calibrated_by_writer(scorer, "genuine")
    by_writer_skl = ps.calibrated_by_writer(scorer, "skilled")
    out = {
        "writers": len(ps.genuine),
        "references": ps.references,
        "genuine_queries": int(len(gen)),
        "skilled_queries": int(len(skl)),
        "random_queries": int(len(rnd)),
        "skilled": {"eer": skilled_eer, "auc": metrics.auc(gen, skl), "eer_threshold": skilled_thr},
        "random": {"eer": random_eer, "auc": metrics.auc(gen, rnd)},
        "user_threshold_eer_skilled": metrics.per_writer_eer(by_writer_gen, by_writer_skl),
    }
    if threshold is not None:
        frr, far_s = metrics.rates_at(threshold, gen, skl)
        _, far_r = metrics.rates_at(threshold, gen, rnd)
        out["threshold"] = float(threshold)
        out["at_threshold"] = {"frr": frr, "far_skilled": far_s, "far_random": far_r}
    return out


def decision_rates(ps: ProtocolScores, scorer: ScoreModel, accept: float, reject: float) -> dict:
    """What a bank sees at the operating points: each query is decided genuine (score >= accept),
    forgery (score < reject) or referred to a human. FAR/FRR are fractions of their kind's queries;
    ``referred``/``automated`` of all the protocol's queries (genuine, skilled and random), and
    ``referred_questioned`` of the genuine and skilled ones only (the policy preview's ``referred``)."""
    from .policy import outcome, referred_of_all

    gen, skl, rnd = ps.calibrated(scorer)
    rates = outcome(gen, skl, rnd, accept, reject)
    referred = referred_of_all(gen, skl, rnd, accept, reject)
    return {
        "accept": float(accept),
        "reject": float(reject),
        "far_skilled_at_accept": _nan_if_none(rates["forgeries_accepted"]),
        "far_random_at_accept": _nan_if_none(rates["random_accepted"]),
        "frr_at_reject": _nan_if_none(rates["genuine_rejected"]),
        "referred": referred,
        "automated": 1.0 - referred,
        "referred_questioned": _nan_if_none(rates["referred"]),
        "referred_by_kind": {
            "genuine": _nan_if_none(rates["referred_genuine"]),
            "skilled": _nan_if_none(rates["referred_skilled"]),
            "random": float(np.mean((rnd >= reject) & (rnd < accept))) if len(rnd) else float("nan"),
        },
    }


def _nan_if_none(value) -> float:
    return float("nan") if value is None else float(value)


def dumps(report: dict) -> str:
    return json.dumps(report, indent=2, sort_keys=True, default=float)
