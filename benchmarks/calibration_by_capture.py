#!/usr/bin/env python
"""Would a score calibration per capture condition let more cheques be decided without a human?

    nice -n 10 .venv/bin/python benchmarks/calibration_by_capture.py --model trained_model_parameters

Embeds the validation and test writers of organized_data/{cedar,gpds,bengali,hindi}
(image_pairs/splits.csv) once, then fits the scorer (priors and logistic calibration,
``sigverify.evaluate.fit_scorer``) three ways on validation writers:
  global       one fit over the four datasets (what ``sigverify train`` ships)
  per-capture  one fit for the grey scans (CEDAR, GPDS), one for the bilevel ones (BHSig260)
  per-dataset  one fit per dataset (the most a service could tailor)
and takes the shipped threshold rule (``sigverify.policy.thresholds_for``: 1% skilled forgeries
accepted and 1% genuine rejected on every dataset's validation writers). It prints, per dataset's
test writers at R = 5, the share of skilled and random forgeries decided genuine, genuine
decided forgery, and questioned signatures (genuine and skilled) decided without a human.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from sigverify import evaluate as ev
from sigverify import metrics
from sigverify.embedding import embed_split
from sigverify.inference import Verifier
from sigverify.policy import outcome

CAPTURE = {"cedar": "grey", "gpds": "grey", "bengali": "bilevel", "hindi": "bilevel"}
FITS = {
    "global": lambda name: "all",
    "per-capture": CAPTURE.get,
    "per-dataset": lambda name: name,
}


def pooled(embedded: dict, names: list[str], split: str):
    """One embedding matrix and writer groups for several datasets (writer keys made unique)."""
    matrices, groups, offset = [], {}, 0
    for name in names:
        embeddings, by_writer = embedded[name, split]
        matrices.append(embeddings)
        for writer, group in by_writer.items():
            groups[f"{name}/{writer}"] = {kind: [i + offset for i in idx] for kind, idx in group.items()}
        offset += len(embeddings)
    return np.concatenate(matrices), groups


def compare(embedded: dict, datasets: list[str], group_of) -> dict:
    scorers = {
        group: ev.fit_scorer(*pooled(embedded, [n for n in datasets if group_of(n) == group], "val"))
        for group in {group_of(n) for n in datasets}
    }
    calibrated = {}
    for name in datasets:
        scorer = scorers[group_of(name)]
        for split in ("val", "test"):
            ps = ev.protocol_scores(*embedded[name, split], ev.THRESHOLD_REFERENCES, scorer)
            calibrated[name, split] = ps.calibrated(scorer)
    accept = max(metrics.threshold_at_far(calibrated[n, "val"][1], ev.ACCEPT_FAR) for n in datasets)
    reject = min(min(metrics.threshold_at_frr(calibrated[n, "val"][0], ev.REJECT_FRR) for n in datasets), accept)
    rows = {}
    for name in datasets:
        genuine, skilled, random = calibrated[name, "test"]
        seen = outcome(genuine, skilled, random, accept, reject)
        rows[name] = {
            "skilled_accepted": seen["forgeries_accepted"],
            "random_accepted": seen["random_accepted"],
            "genuine_rejected": seen["genuine_rejected"],
            "decided": 1 - seen["referred"],
            "skilled_eer": metrics.eer(genuine, skilled)[0],
        }
    return {"accept": accept, "reject": reject, "datasets": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--model", default="trained_model_parameters")
    parser.add_argument("--organized", default="organized_data")
    parser.add_argument("--split-file", default="image_pairs/splits.csv")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    verifier = Verifier.from_dir(args.model, precision="fp32")
    datasets = list(CAPTURE)
    embedded = {
        (name, split): embed_split(verifier, f"{args.organized}/{name}", "folders", args.split_file, split)
        for name in datasets
        for split in ("val", "test")
    }
    results = {fit: compare(embedded, datasets, group_of) for fit, group_of in FITS.items()}
    for fit, result in results.items():
        print(f"{fit}: accept {result['accept']:.3f}, reject {result['reject']:.3f}")
        for name, row in result["datasets"].items():
            print(
                f"  {name:8s} skilled accepted {row['skilled_accepted']:6.2%}  random accepted "
                f"{row['random_accepted']:6.2%}  genuine rejected {row['genuine_rejected']:6.2%}  "
                f"decided {row['decided']:6.1%}  skilled EER {row['skilled_eer']:6.2%}"
            )
        mean = np.mean([row["decided"] for row in result["datasets"].values()])
        print(f"  mean decided without a human: {mean:.1%}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"model": args.model, "fits": results}, fh, indent=2)


if __name__ == "__main__":
    main()
