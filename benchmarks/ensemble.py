#!/usr/bin/env python
"""Does an ensemble of trained models beat each of them alone?

    nice -n 10 .venv/bin/python benchmarks/ensemble.py --model runs/a/model --model runs/b/model

Embeds the validation and test writers of organized_data/{cedar,gpds,bengali,hindi}
(image_pairs/splits.csv) with every model. The ensemble's embedding is the models' unit
embeddings side by side, scaled by 1/sqrt(n): its cosine distance is the mean of theirs, so the
scorer (z-normalisation by the references' spread, then the calibration) works on it unchanged.
For each model alone and for the ensemble it prints:
  - the selection figure: validation skilled EER at R = 5, pooled over every dataset's writers;
  - per dataset's test writers: skilled EER at R = 5 and R = 1, random EER at R = 5;
  - at the shipped threshold rule (1% / 1% on every dataset's validation writers): skilled
    forgeries decided genuine, genuine decided forgery, and the share decided without a human.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from calibration_by_capture import CAPTURE, compare, pooled
from sigverify import evaluate as ev
from sigverify import metrics
from sigverify.inference import Verifier
from sigverify.report import embed_split


def combined(per_model: list[dict]) -> dict:
    """The ensemble's embeddings: each model's unit vectors side by side, scaled to unit length."""
    scale = 1.0 / np.sqrt(len(per_model))
    out = {}
    for key in per_model[0]:
        groups = per_model[0][key][1]
        if any(m[key][1] != groups for m in per_model):
            raise SystemExit(f"the models kept different images of {key[0]} ({key[1]}): cannot combine them")
        out[key] = (np.concatenate([m[key][0] for m in per_model], axis=1) * scale, groups)
    return out


def figures(embedded: dict, datasets: list[str]) -> dict:
    val_embeddings, val_groups = pooled(embedded, datasets, "val")
    val_scorer = ev.fit_scorer(val_embeddings, val_groups)
    val = ev.summarise(ev.protocol_scores(val_embeddings, val_groups, 5, val_scorer), val_scorer)
    decisions = compare(embedded, datasets, lambda name: "all")
    test = {}
    for name in datasets:
        row = dict(decisions["datasets"][name])
        for references in (1, 5):
            ps = ev.protocol_scores(*embedded[name, "test"], references, val_scorer)
            genuine, skilled, random = ps.calibrated(val_scorer)
            row[f"skilled_eer_R{references}"] = metrics.eer(genuine, skilled)[0]
            row[f"random_eer_R{references}"] = metrics.eer(genuine, random)[0]
        test[name] = row
    return {
        "val_skilled_eer_R5": val["skilled"]["eer"],
        "accept": decisions["accept"],
        "reject": decisions["reject"],
        "test": test,
    }


def show(label: str, result: dict) -> None:
    print(
        f"{label}: val skilled EER (R5, pooled) {result['val_skilled_eer_R5']:.2%}; "
        f"accept {result['accept']:.3f}, reject {result['reject']:.3f}"
    )
    for name, row in result["test"].items():
        print(
            f"  {name:8s} skilled EER R5 {row['skilled_eer_R5']:6.2%} R1 {row['skilled_eer_R1']:6.2%}  "
            f"random EER R5 {row['random_eer_R5']:6.2%}  skilled accepted {row['skilled_accepted']:6.2%}  "
            f"genuine rejected {row['genuine_rejected']:6.2%}  decided {row['decided']:6.1%}"
        )
    rows = result["test"].values()
    print(
        f"  mean: skilled EER R5 {np.mean([r['skilled_eer_R5'] for r in rows]):.2%}, "
        f"R1 {np.mean([r['skilled_eer_R1'] for r in rows]):.2%}, "
        f"decided without a human {np.mean([r['decided'] for r in rows]):.1%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--model", action="append", required=True, help="model dir; give it twice or more")
    parser.add_argument("--organized", default="organized_data")
    parser.add_argument("--split-file", default="image_pairs/splits.csv")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    if len(args.model) < 2:
        parser.error("an ensemble needs at least two --model")
    datasets = list(CAPTURE)
    per_model = []
    for model in args.model:
        verifier = Verifier.from_dir(model, precision="fp32")
        per_model.append(
            {
                (name, split): embed_split(verifier, f"{args.organized}/{name}", "folders", args.split_file, split)
                for name in datasets
                for split in ("val", "test")
            }
        )
    results = {model: figures(embedded, datasets) for model, embedded in zip(args.model, per_model, strict=True)}
    results["ensemble"] = figures(combined(per_model), datasets)
    for label, result in results.items():
        show(label, result)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"models": args.model, "results": results}, fh, indent=2)


if __name__ == "__main__":
    main()
