"""The operating policy: a bank's error targets turned into the ``accept`` and ``reject`` thresholds.

A policy is two targets: the share of skilled forgeries that may be accepted (``far_skilled``) and
the share of genuine signatures that may be rejected (``frr``), each 0.1–5%. The thresholds follow
from the calibrated scores of the validation writers that ``sigverify publish`` stores beside the
model card (``scores.json``), so a new policy needs no retraining. Each target must hold on the
validation writers of every dataset, not only on all of them pooled. The test writers' scores, never
used to choose a threshold, show what a policy would do: forgeries accepted, genuine rejected and the
share referred to a human (``preview``), over the whole range of policies (``sweep``).

Operating points depend on the number of references R a signer has: with one reference the scores
of genuine signatures and forgeries overlap far more than with five. A scores file of format 2
stores the scores of every fitted R (``by_references``; the buckets of ``scoring.REFERENCE_BUCKETS``)
and ``thresholds_for`` returns one ``accept``/``reject`` pair per R besides the primary R's;
``thresholds_at(thresholds, R)`` picks the pair a signer with R references is decided with. An
older file (format 1, one R) gives the same pair for every R.

A scores file may also hold the scores of signatures cut from generated whole cheques (``cheque``,
at the primary R; ``sigverify.cheque_scores``). ``thresholds_for`` then fits a ``cheque`` pair from
the validation writers' ones by the same every-dataset rule, and ``thresholds_at(..., cheque=True)``
decides a crop found on a whole cheque with the stricter of it and its R's own pair.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import metrics
from .card import ModelCard
from .scoring import reference_bucket

SCORES_FILE = "scores.json"
SCORES_FORMAT = 2
READABLE_FORMATS = (1, 2)
KINDS = ("genuine", "skilled", "random")
SPLITS = ("val", "test")
TARGET_MIN, TARGET_MAX, DEFAULT_TARGET = 0.001, 0.05, 0.01
# The policies the sweep plots: forgery targets across the allowed range, log-spaced.
SWEEP_TARGETS = tuple(float(f"{t:.4g}") for t in np.geomspace(TARGET_MIN, TARGET_MAX, 17))


class ScoresFileError(ValueError):
    """The stored scores are missing, damaged or do not belong to the model."""


@dataclass(frozen=True)
class Policy:
    far_skilled: float = DEFAULT_TARGET  # skilled forgeries that may be accepted (fraction)
    frr: float = DEFAULT_TARGET  # genuine signatures that may be rejected (fraction)

    def errors(self) -> dict[str, list[str]]:
        """Field errors ({} when both targets are in range)."""
        out = {}
        for name in ("far_skilled", "frr"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                out[name] = ["must be a number"]
            elif not TARGET_MIN <= value <= TARGET_MAX:
                out[name] = [f"must be between {TARGET_MIN} and {TARGET_MAX} (0.1% to 5%), got {value}"]
        return out


@dataclass
class StoredScores:
    """Calibrated scores (higher = more likely genuine) per split, dataset and query kind, at R references."""

    references: int
    scores: dict = field(default_factory=dict)  # split -> dataset -> kind -> np.ndarray (at ``references``)
    model_sha256: str = ""
    # R -> split -> dataset -> kind -> np.ndarray, for every fitted R other than ``references``
    by_references: dict = field(default_factory=dict)
    # split -> dataset -> kind -> np.ndarray: signatures cut from whole cheques (at ``references``)
    cheque: dict = field(default_factory=dict)
    cheque_protocol: dict = field(default_factory=dict)  # how they were made (``ChequeProtocol.to_dict``)

    def add(self, split: str, dataset: str, protocol, scorer) -> None:
        """Store one dataset's ``evaluate.ProtocolScores`` as calibrated scores (what the service compares),
        under the protocol's R (the primary ``scores`` where it is ``references``)."""
        genuine, skilled, random = protocol.calibrated(scorer)
        target = self.scores if protocol.references == self.references else None
        if target is None:
            target = self.by_references.setdefault(int(protocol.references), {})
        target.setdefault(split, {})[dataset] = {"genuine": genuine, "skilled": skilled, "random": random}

    @property
    def buckets(self) -> list[int]:
        """The R with scores of their own ([references] alone for a single-R file)."""
        return sorted({self.references, *(int(r) for r in self.by_references)})

    def at(self, references: int) -> StoredScores:
        """The scores of the fitted R that serves a signer with ``references`` (the primary for a single-R file)."""
        bucket = reference_bucket(references, self.buckets)
        if bucket == self.references:
            return StoredScores(references=self.references, scores=self.scores, model_sha256=self.model_sha256)
        return StoredScores(references=bucket, scores=self.by_references[bucket], model_sha256=self.model_sha256)

    def pooled(self, split: str, kind: str) -> np.ndarray:
        parts = [np.asarray(by_kind.get(kind, ()), dtype=np.float64) for by_kind in self.scores.get(split, {}).values()]
        return np.concatenate(parts) if parts else np.zeros(0)

    def datasets(self, split: str) -> list[str]:
        return sorted(self.scores.get(split, {}))

    def to_dict(self) -> dict:
        out = {
            "format": SCORES_FORMAT if self.by_references else 1,
            "score": "calibrated",
            "references": self.references,
            "model_sha256": self.model_sha256,
            "splits": _splits_to_dict(self.scores),
        }
        if self.by_references:
            out["by_references"] = {str(r): _splits_to_dict(s) for r, s in sorted(self.by_references.items())}
        if self.cheque:
            out["cheque"] = {"protocol": self.cheque_protocol, "splits": _splits_to_dict(self.cheque)}
        return out

    @classmethod
    def from_dict(cls, data: dict) -> StoredScores:
        if (
            not isinstance(data, dict)
            or data.get("format") not in READABLE_FORMATS
            or not isinstance(data.get("splits"), dict)
        ):
            raise ScoresFileError(f"not a scores file of format {' or '.join(map(str, READABLE_FORMATS))}")
        by_references = data.get("by_references") or {}
        if not isinstance(by_references, dict):
            raise ScoresFileError("by_references must map R to splits")
        cheque = data.get("cheque") or {}
        if not isinstance(cheque, dict) or not isinstance(cheque.get("splits", {}), dict):
            raise ScoresFileError("cheque must hold a protocol and splits")
        return cls(
            references=int(data.get("references", 5)),
            scores=_splits_from_dict(data["splits"]),
            model_sha256=str(data.get("model_sha256", "")),
            by_references={int(r): _splits_from_dict(splits) for r, splits in by_references.items()},
            cheque=_splits_from_dict(cheque.get("splits", {})),
            cheque_protocol=dict(cheque.get("protocol") or {}),
        )

    def write(self, directory) -> str:
        """Write ``scores.json`` into ``directory`` (``.part`` then rename); returns its sha256."""
        path = Path(directory) / SCORES_FILE
        text = json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True) + "\n"
        part = path.with_name(path.name + ".part")
        part.write_text(text)
        os.replace(part, path)
        return hashlib.sha256(text.encode()).hexdigest()

    @classmethod
    def read(cls, path, sha256: str | None = None) -> StoredScores:
        """Load a scores file; with ``sha256`` (the card's) a file that differs is refused."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ScoresFileError(f"cannot read the validation scores {path}: {exc.strerror or exc}") from exc
        if sha256 and hashlib.sha256(raw).hexdigest() != sha256:
            raise ScoresFileError(f"the validation scores {path} do not match the sha256 in the model card")
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ScoresFileError(f"the validation scores {path} are not valid JSON: {exc}") from exc
        try:
            return cls.from_dict(data)
        except (TypeError, ValueError, AttributeError) as exc:
            raise ScoresFileError(f"{path}: {exc}") from exc


def _splits_to_dict(scores: dict) -> dict:
    return {
        split: {
            name: {kind: [round(float(v), 7) for v in by_kind.get(kind, ())] for kind in KINDS}
            for name, by_kind in sorted(datasets.items())
        }
        for split, datasets in sorted(scores.items())
    }


def _splits_from_dict(splits: dict) -> dict:
    return {
        split: {
            name: {kind: np.asarray(by_kind.get(kind, []), dtype=np.float64) for kind in KINDS}
            for name, by_kind in datasets.items()
        }
        for split, datasets in splits.items()
    }


def scores_for_card(directory, card: ModelCard) -> StoredScores | None:
    """The scores a model card points at (``card.scores``), checked against its sha256; None if it has none."""
    if card.scores is None:
        return None
    return StoredScores.read(Path(directory) / card.scores.file, sha256=card.scores.sha256)


def thresholds_for(scores: StoredScores, policy: Policy) -> dict:
    """``accept`` and ``reject`` for ``policy`` from the validation writers' scores, held on **every** dataset.

    accept: the lowest threshold that accepts at most ``far_skilled`` of each dataset's skilled forgeries;
    reject: the highest that rejects at most ``frr`` of each dataset's genuine signatures, never above
    accept (where the two cross there is no refer band). A promise kept on the pooled scores alone was
    broken on single capture conditions (CEDAR at 200 dpi, BHSig260's bilevel scans): see the model card.

    The top-level pair is the primary R's (``scores.references``); where the scores hold several R,
    ``by_references`` maps each R (a string, as JSON keeps it) to its own pair: pick one with
    ``thresholds_at``. Where the scores hold validation scores of signatures cut from whole cheques,
    ``cheque`` is the pair fitted on those (never looser than the primary pair).
    """
    errors = policy.errors()
    if errors:
        raise ValueError("; ".join(f"{k} {v[0]}" for k, v in errors.items()))
    out = _thresholds_one(scores, policy)
    if scores.by_references:
        out["by_references"] = {}
        for r in scores.buckets:
            try:
                one = _thresholds_one(scores.at(r), policy)
            except ScoresFileError:
                continue  # no validation writer had a query left at this R: a lower R's pair serves it
            out["by_references"][str(r)] = {"accept": one["accept"], "reject": one["reject"]}
    if scores.cheque.get("val"):
        cheque = StoredScores(references=scores.references, scores={"val": scores.cheque["val"]})
        try:
            one = _thresholds_one(cheque, policy)
        except ScoresFileError:
            return out  # no genuine or skilled cheque scores: crops from cheques use their R's pair
        accept = max(one["accept"], out["accept"])
        out["cheque"] = {"accept": accept, "reject": min(one["reject"], out["reject"], accept)}
    return out


def thresholds_at(thresholds: dict, references: int, cheque: bool = False) -> dict:
    """The ``accept``/``reject`` a signer with ``references`` references is decided with.

    ``thresholds``: what ``thresholds_for`` returns, or a card's / model version's thresholds. Returns
    {"accept", "reject", "references": the R they were fitted for (None: one pair for every R, an
    older card)}. ``cheque``: the questioned signature was cut from a whole cheque by the finder;
    where ``thresholds`` has a ``cheque`` pair the stricter of the two is used, and the answer says
    ``"cheque": True`` (without one, False: the caller decides what a forgery call on it means)."""
    by = thresholds.get("by_references") or {}
    if by:
        bucket = reference_bucket(references, [int(r) for r in by])
        pair = by[str(bucket)]
        out = {"accept": float(pair["accept"]), "reject": float(pair["reject"]), "references": bucket}
    else:
        out = {"accept": float(thresholds["accept"]), "reject": float(thresholds["reject"]), "references": None}
    on_cheque = thresholds.get("cheque") if cheque else None
    if on_cheque:
        out["accept"] = max(out["accept"], float(on_cheque["accept"]))
        out["reject"] = min(out["reject"], float(on_cheque["reject"]), out["accept"])
    if cheque:
        out["cheque"] = bool(on_cheque)
    return out


def _thresholds_one(scores: StoredScores, policy: Policy) -> dict:
    by_dataset = scores.scores.get("val", {}).values()
    skilled = [np.asarray(by["skilled"], dtype=np.float64) for by in by_dataset if len(by.get("skilled", ()))]
    genuine = [np.asarray(by["genuine"], dtype=np.float64) for by in by_dataset if len(by.get("genuine", ()))]
    if not skilled or not genuine:
        raise ScoresFileError("the stored scores have no validation genuine or skilled-forgery scores")
    accept = max(metrics.threshold_at_far(values, policy.far_skilled) for values in skilled)
    reject = min(min(metrics.threshold_at_frr(values, policy.frr) for values in genuine), accept)
    return {
        "accept": float(accept),
        "reject": float(reject),
        "accept_far_skilled": float(policy.far_skilled),
        "reject_frr": float(policy.frr),
        "references": scores.references,
    }


def _share(mask) -> float | None:
    return float(np.mean(mask)) if len(mask) else None


def outcome(genuine, skilled, random, accept: float, reject: float) -> dict:
    """What ``accept``/``reject`` do to these scores (fractions; None where there are no queries).

    ``referred`` is the share of all questioned signatures (genuine and skilled forgeries) sent to a human.
    """
    genuine, skilled, random = (np.asarray(x, dtype=np.float64) for x in (genuine, skilled, random))
    both = np.r_[genuine, skilled]
    return {
        "forgeries_accepted": _share(skilled >= accept),
        "random_accepted": _share(random >= accept),
        "genuine_rejected": _share(genuine < reject),
        "genuine_accepted": _share(genuine >= accept),
        "referred": _share((both >= reject) & (both < accept)),
        "referred_genuine": _share((genuine >= reject) & (genuine < accept)),
        "referred_skilled": _share((skilled >= reject) & (skilled < accept)),
        "queries": {"genuine": int(len(genuine)), "skilled": int(len(skilled)), "random": int(len(random))},
    }


def referred_of_all(genuine, skilled, random, accept: float, reject: float) -> float:
    """The share of all queries (genuine, skilled and random forgeries) referred to a human; NaN if none."""
    every = np.concatenate([np.asarray(x, dtype=np.float64) for x in (genuine, skilled, random)])
    return float(np.mean((every >= reject) & (every < accept))) if len(every) else float("nan")


def preview(scores: StoredScores, policy: Policy) -> dict:
    """The thresholds ``policy`` gives and what they do on the test writers (pooled and per dataset),
    at the primary R and, in ``by_references``, at every R the scores hold (each with its own pair);
    in ``cheque``, on signatures cut from whole cheques at the cheque pair, where the scores hold them."""
    thresholds = thresholds_for(scores, policy)
    out = {
        "policy": {"far_skilled": policy.far_skilled, "frr": policy.frr},
        "thresholds": thresholds,
        **_outcomes(scores, thresholds["accept"], thresholds["reject"]),
    }
    out["by_references"] = {}
    for r in sorted(int(k) for k in thresholds.get("by_references", {})):
        pair = thresholds_at(thresholds, r)
        out["by_references"][str(r)] = {
            "references": r,
            "accept": pair["accept"],
            "reject": pair["reject"],
            **_outcomes(scores.at(r), pair["accept"], pair["reject"]),
        }
    if "cheque" in thresholds:
        pair = thresholds_at(thresholds, scores.references, cheque=True)
        on_cheques = StoredScores(references=scores.references, scores=scores.cheque)
        accept, reject = pair["accept"], pair["reject"]
        out["cheque"] = {"accept": accept, "reject": reject, **_outcomes(on_cheques, accept, reject)}
    return out


def _outcomes(scores: StoredScores, accept: float, reject: float) -> dict:
    return {
        "test": outcome(*(scores.pooled("test", k) for k in KINDS), accept, reject),
        "test_by_dataset": {
            name: outcome(*(by_kind.get(k, ()) for k in KINDS), accept, reject)
            for name, by_kind in sorted(scores.scores.get("test", {}).items())
        },
        "validation": outcome(*(scores.pooled("val", k) for k in KINDS), accept, reject),
    }


def sweep(scores: StoredScores, frr: float = DEFAULT_TARGET, far_targets=SWEEP_TARGETS) -> list[dict]:
    """One row per forgery target (``frr`` held): thresholds and test-writer outcome, for the trade-off plot."""
    rows = []
    for target in far_targets:
        result = preview(scores, Policy(far_skilled=float(target), frr=frr))
        test = result["test"]
        rows.append(
            {
                "far_skilled": float(target),
                "frr": float(frr),
                "accept": result["thresholds"]["accept"],
                "reject": result["thresholds"]["reject"],
                "forgeries_accepted": test["forgeries_accepted"],
                "genuine_rejected": test["genuine_rejected"],
                "referred": test["referred"],
            }
        )
    return rows
