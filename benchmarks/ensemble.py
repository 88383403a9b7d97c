#!/usr/bin/env python
"""Does an ensemble of published models (the mean of their calibrated scores) beat each alone?

    git show 4c265ff:trained_model_parameters/scores.json > var/all4_scores.json
    .venv/bin/python benchmarks/ensemble.py trained_model_parameters/scores.json var/all4_scores.json

Reads the ``scores.json`` that ``sigverify publish`` writes beside each model card: the calibrated
score (R = 5) of every validation and test query, per dataset and kind, in the protocol's order,
so the same query has the same position in every model's file. The ensemble scores a query with
the mean of the models' scores. For each model and for the ensemble it prints the selection figure
(validation skilled EER, every dataset's writers pooled) and, per dataset's test writers, the
skilled and random EER and the decisions at the shipped threshold rule (1% skilled forgeries
accepted and 1% genuine rejected on every dataset's validation writers). Needs no embedding.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from sigverify import metrics
from sigverify.policy import KINDS, SPLITS, Policy, StoredScores, outcome, referred_of_all, thresholds_for


def mean_of(models: list[StoredScores]) -> StoredScores:
    first = models[0]
    fused = StoredScores(references=first.references)
    for split in SPLITS:
        for name in first.scores.get(split, {}):
            parts = {k: [np.asarray(m.scores[split][name][k]) for m in models] for k in KINDS}
            if any(len({len(p) for p in parts[k]}) > 1 for k in KINDS):
                raise SystemExit(f"{split} {name}: the models scored different queries; publish them on the same data")
            fused.scores.setdefault(split, {})[name] = {k: np.mean(parts[k], axis=0) for k in KINDS}
    return fused


def figures(scores: StoredScores) -> dict:
    thresholds = thresholds_for(scores, Policy())
    accept, reject = thresholds["accept"], thresholds["reject"]
    test = {}
    for name, by_kind in sorted(scores.scores["test"].items()):
        genuine, skilled, random = (np.asarray(by_kind[k]) for k in KINDS)
        seen = outcome(genuine, skilled, random, accept, reject)
        test[name] = {
            "skilled_eer": metrics.eer(genuine, skilled)[0],
            "random_eer": metrics.eer(genuine, random)[0],
            "skilled_accepted": seen["forgeries_accepted"],
            "genuine_rejected": seen["genuine_rejected"],
            # Of all the protocol's queries, as `sigverify evaluate`'s `decisions.automated`.
            "automated": 1.0 - referred_of_all(genuine, skilled, random, accept, reject),
        }
    val_eer = metrics.eer(scores.pooled("val", "genuine"), scores.pooled("val", "skilled"))[0]
    return {"val_skilled_eer": val_eer, "accept": accept, "reject": reject, "test": test}


def show(label: str, result: dict) -> None:
    print(
        f"{label}: validation skilled EER (pooled) {result['val_skilled_eer']:.2%}; "
        f"accept {result['accept']:.3f}, reject {result['reject']:.3f}"
    )
    for name, row in result["test"].items():
        print(
            f"  {name:8s} skilled EER {row['skilled_eer']:6.2%}  random EER {row['random_eer']:6.2%}  "
            f"skilled accepted {row['skilled_accepted']:6.2%}  genuine rejected {row['genuine_rejected']:6.2%}  "
            f"automated {row['automated']:6.1%}"
        )
    rows = result["test"].values()
    print(
        f"  mean: skilled EER {np.mean([r['skilled_eer'] for r in rows]):.2%}, "
        f"automated {np.mean([r['automated'] for r in rows]):.1%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("scores", nargs="+", help="scores.json of each model (two or more)")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    if len(args.scores) < 2:
        parser.error("an ensemble needs at least two scores files")
    models = [StoredScores.read(path) for path in args.scores]
    results = {path: figures(model) for path, model in zip(args.scores, models, strict=True)}
    results["ensemble (mean score)"] = figures(mean_of(models))
    for label, result in results.items():
        show(label, result)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
