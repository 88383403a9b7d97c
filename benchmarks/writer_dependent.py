#!/usr/bin/env python
"""Does a writer-dependent classifier over the embeddings beat the shipped writer-independent score?

    nice -n 10 .venv/bin/python benchmarks/writer_dependent.py --model trained_model_parameters

For each test writer of organized_data/{cedar,gpds,bengali,hindi} (image_pairs/splits.csv) with
R = 5 references, a linear SVM is trained on the embeddings: the references against background
writers (the first genuine samples of every training writer, all four datasets). Its decision value
scores the writer's queries. The shipped score (z-normalised distance to the references) scores
the same queries. Both are pooled over a dataset's writers, one threshold for all, as the service
decides. Printed per dataset: skilled and random EER of each score.
"""

from __future__ import annotations

import argparse
import json
from itertools import groupby, islice

import numpy as np
from sklearn.svm import LinearSVC

from calibration_by_capture import CAPTURE
from sigverify import evaluate as ev
from sigverify import metrics
from sigverify.datasets import load_dataset
from sigverify.embedding import embed_dataset, embed_split
from sigverify.inference import Verifier
from sigverify.pairs import read_splits, writer_key

REFERENCES = 5


def background(verifier: Verifier, organized: str, split_file: str, per_writer: int) -> np.ndarray:
    """Embeddings of the first ``per_writer`` genuine samples of every training writer."""
    splits = read_splits(split_file)
    parts = []
    for name in CAPTURE:
        root, samples = load_dataset(f"{organized}/{name}")
        chosen = sorted(
            (s for s in samples if s.is_genuine and splits.get(writer_key(name, s.writer)) == "train"),
            key=lambda s: (s.writer, s.sample),
        )
        kept = [s for _, group in groupby(chosen, key=lambda s: s.writer) for s in islice(group, per_writer)]
        parts.append(embed_dataset(verifier, kept, root)[0])
    return np.concatenate(parts)


def svm_scores(embeddings: np.ndarray, groups: dict, negatives: np.ndarray, c: float) -> dict:
    """(genuine, skilled, random) decision values, higher = more genuine, every writer pooled."""
    out = {"genuine": [], "skilled": [], "random": []}
    for _, refs, genuine, skilled, random in ev.protocol_queries(groups, REFERENCES):
        x = np.concatenate([embeddings[refs], negatives])
        y = np.r_[np.ones(len(refs)), np.zeros(len(negatives))]
        svm = LinearSVC(C=c, class_weight="balanced").fit(x, y)
        for kind, idx in (("genuine", genuine), ("skilled", skilled), ("random", random)):
            if idx:
                out[kind].extend(svm.decision_function(embeddings[idx]))
    return {k: np.asarray(v) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--model", default="trained_model_parameters")
    parser.add_argument("--organized", default="organized_data")
    parser.add_argument("--split-file", default="image_pairs/splits.csv")
    parser.add_argument("--background-per-writer", type=int, default=2)
    parser.add_argument("--c", type=float, default=1.0, help="SVM regularisation")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    verifier = Verifier.from_dir(args.model, precision="fp32")
    negatives = background(verifier, args.organized, args.split_file, args.background_per_writer)
    print(f"background: {len(negatives)} genuine signatures of training writers")
    rows = {}
    for name in CAPTURE:
        embeddings, groups = embed_split(verifier, f"{args.organized}/{name}", "folders", args.split_file, "test")
        ps = ev.protocol_scores(embeddings, groups, REFERENCES, verifier.scorer)
        genuine, skilled, random = ps.calibrated(verifier.scorer)
        wd = svm_scores(embeddings, groups, negatives, args.c)
        rows[name] = {
            "shipped_skilled_eer": metrics.eer(genuine, skilled)[0],
            "shipped_random_eer": metrics.eer(genuine, random)[0],
            "svm_skilled_eer": metrics.eer(wd["genuine"], wd["skilled"])[0],
            "svm_random_eer": metrics.eer(wd["genuine"], wd["random"])[0],
        }
        row = rows[name]
        print(
            f"{name:8s} skilled EER: shipped {row['shipped_skilled_eer']:6.2%}  SVM {row['svm_skilled_eer']:6.2%}   "
            f"random EER: shipped {row['shipped_random_eer']:6.2%}  SVM {row['svm_random_eer']:6.2%}"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"model": args.model, "references": REFERENCES, "datasets": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
