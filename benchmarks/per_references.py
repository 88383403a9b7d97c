#!/usr/bin/env python
"""Operating points per number of references R, and a classifier per signer fused with the shipped score.

    nice -n 10 .venv/bin/python benchmarks/per_references.py embed     # once: caches embeddings in var/emb/
    .venv/bin/python benchmarks/per_references.py measure --json var/per_references.json

``embed`` embeds (fp32) every validation and test writer of organized_data/{cedar,gpds,bengali,hindi}
(image_pairs/splits.csv), the first two genuine signatures of every training writer (the background
a signer classifier is fitted against) and ``--copies`` synthetic duplicates (``augment.reference_duplicates``)
of each val/test writer's first three genuine signatures, into var/emb/<model sha256[:12]>/.

``measure`` needs no model: on the cached embeddings it fits, on VALIDATION writers only, the
calibration and the default policy's thresholds (1% skilled forgeries accepted, 1% genuine rejected,
held on every dataset) for each R, for each variant:

- ``single``: the shipped card as it is (one calibration, one pair of thresholds for every R);
- ``per-R``: a calibration and a pair of thresholds per R;
- ``fused``: per R, the logistic map also takes the signer classifier's margin (linear SVM on the
  references against the background);
- ``fused+dup``: the same with the synthetic duplicates among the classifier's positives (R <= 3);
- ``fused-cap5``: ``fused`` up to R = 5, and R = 5's calibration and thresholds above it.

and prints per dataset's TEST writers and R: skilled EER, random EER, forgeries accepted at accept,
genuine rejected at reject, share decided without a human (of all queries).
"""

from __future__ import annotations

import argparse
import json
import sys
from itertools import groupby, islice
from pathlib import Path

import numpy as np

from sigverify import evaluate as ev
from sigverify import metrics
from sigverify.policy import Policy, StoredScores, outcome, referred_of_all, thresholds_at, thresholds_for
from sigverify.scoring import REFERENCE_BUCKETS, ScoreModel, fit_logistic
from sigverify.writer_dependent import fit_signer_classifier

DATASETS = ("cedar", "gpds", "bengali", "hindi")
SPLITS = ("val", "test")
REPORT_R = (1, 2, 3, 5, 10)
DUPLICATED = 3  # duplicates are made of each writer's first three genuine signatures


def cache_dir(root: str, sha: str) -> Path:
    return Path(root) / sha[:12]


def embed(args) -> None:
    import torch

    from sigverify.augment import reference_duplicates
    from sigverify.cache import ImageCache
    from sigverify.datasets import load_dataset
    from sigverify.embedding import save_embedded
    from sigverify.inference import Verifier
    from sigverify.pairs import read_splits, writer_key

    torch.set_num_threads(args.threads)
    verifier = Verifier.from_dir(args.model, precision="fp32")
    out = cache_dir(args.cache, verifier.sha256)
    out.mkdir(parents=True, exist_ok=True)
    splits = read_splits(args.split_file)
    background, background_writers = [], []
    for name in DATASETS:
        root, samples = load_dataset(f"{args.organized}/{name}")
        for split in SPLITS:
            path = out / f"{name}_{split}.npz"
            if path.exists():
                continue
            chosen = [s for s in samples if splits.get(writer_key(name, s.writer)) == split]
            cache = ImageCache.build(chosen, root, verifier.input_size)
            kept = [s for s, ok in zip(chosen, cache.valid, strict=True) if ok]
            arrays = [cache.arrays[i] for i, ok in enumerate(cache.valid) if ok]
            emb = verifier.embed_arrays(arrays)
            groups = ev.group_by_writer([s.writer for s in kept], [s.label for s in kept], [s.sample for s in kept])
            dup_writer, dup_slot, dup_arrays = [], [], []
            for w, g in groups.items():
                for slot, i in enumerate(g["genuine"][:DUPLICATED]):
                    for copy in reference_duplicates([arrays[i]], args.copies, seed=hash((name, w, slot)) & 0xFFFF):
                        dup_writer.append(w)
                        dup_slot.append(slot)
                        dup_arrays.append(copy)
            dup = verifier.embed_arrays(dup_arrays)
            save_embedded(
                path, emb, kept, dup_embeddings=dup, dup_writers=np.array(dup_writer), dup_slots=np.array(dup_slot)
            )
            print(f"{name} {split}: {len(kept)} images, {len(dup)} duplicates -> {path}", flush=True)
        train = sorted(
            (s for s in samples if s.is_genuine and splits.get(writer_key(name, s.writer)) == "train"),
            key=lambda s: (s.writer, s.sample),
        )
        kept = [s for _, group in groupby(train, key=lambda s: s.writer) for s in islice(group, args.per_writer)]
        cache = ImageCache.build(kept, root, verifier.input_size)
        arrays = [cache.arrays[i] for i, ok in enumerate(cache.valid) if ok]
        background.append(verifier.embed_arrays(arrays))
        background_writers += [f"{name}/{s.writer}" for s, ok in zip(kept, cache.valid, strict=True) if ok]
    np.savez(out / "background.npz", embeddings=np.concatenate(background), writers=np.array(background_writers))
    print(f"background: {sum(len(b) for b in background)} embeddings -> {out / 'background.npz'}")


def load(args) -> tuple[dict, np.ndarray, ScoreModel]:
    card = json.loads((Path(args.model) / "model_card.json").read_text())
    out = cache_dir(args.cache, card["sha256"])
    data = {}
    for name in DATASETS:
        for split in SPLITS:
            z = np.load(out / f"{name}_{split}.npz")
            groups = ev.group_by_writer(list(z["writers"]), list(z["labels"]), list(z["samples"]))
            dups = {}
            for w, slot, e in zip(z["dup_writers"], z["dup_slots"], z["dup_embeddings"], strict=True):
                dups.setdefault(str(w), {}).setdefault(int(slot), []).append(e)
            data[(name, split)] = (z["embeddings"].astype(np.float64), groups, dups)
    background = np.load(out / "background.npz")["embeddings"].astype(np.float64)
    return data, background, ScoreModel.from_dict(card["scoring"])


def raw_scores(data, background, scorer, references: int, classifier: str, c: float) -> dict:
    """(name, split) -> kind -> (z, margin) arrays; margin None without a classifier."""
    out = {}
    for key, (emb, groups, dups) in data.items():
        ps = ev.protocol_scores(emb, groups, references, scorer)
        kinds = {k: [ps.flat(k), None] for k in ("genuine", "skilled", "random")}
        if classifier != "none":
            margins = {"genuine": [], "skilled": [], "random": []}
            for w, refs, genuine, skilled, random in ev.protocol_queries(groups, references):
                extra = None
                if classifier == "dup" and references <= DUPLICATED:
                    extra = np.concatenate([dups[str(w)][slot] for slot in range(references)])
                clf = fit_signer_classifier(emb[refs], background, extra_positives=extra, c=c)
                for kind, idx in (("genuine", genuine), ("skilled", skilled), ("random", random)):
                    if idx:
                        margins[kind].extend(clf.decision(emb[idx]))
            for k in kinds:
                kinds[k][1] = np.asarray(margins[k])
        out[key] = kinds
    return out


def calibrated(raw: dict, calibration) -> StoredScores:
    scores = StoredScores(references=5)
    for (name, split), kinds in raw.items():
        scores.scores.setdefault(split, {})[name] = {
            k: 1.0 / (1.0 + np.exp(-calibration.logit(z, m))) for k, (z, m) in kinds.items()
        }
    return scores


def variant(data, background, scorer, name: str, c: float) -> dict:
    """R -> (calibrated StoredScores at that R, thresholds). ``fused-cap5``: ``fused`` with the
    calibration and thresholds fitted at R = 5 used for every R above 5."""
    classifier = {"single": "none", "per-R": "none", "fused": "svm", "fused+dup": "dup", "fused-cap5": "svm"}[name]
    out = {}
    for r in sorted(set(REFERENCE_BUCKETS) | set(REPORT_R)):
        raw = raw_scores(data, background, scorer, r, classifier, c)
        if name == "fused-cap5" and r > 5:
            _, thresholds, calibration = out[5]
            out[r] = (calibrated(raw, calibration), thresholds, calibration)
            continue
        if name == "single":
            calibration = scorer.calibration(None)
        else:
            val = [kinds for (_, split), kinds in raw.items() if split == "val"]
            zg = np.concatenate([k["genuine"][0] for k in val])
            zs = np.concatenate([k["skilled"][0] for k in val])
            if classifier == "none":
                calibration = fit_logistic(zg, zs)
            else:
                mg = np.concatenate([k["genuine"][1] for k in val])
                ms = np.concatenate([k["skilled"][1] for k in val])
                calibration = fit_logistic(zg, zs, mg, ms)
        scores = calibrated(raw, calibration)
        out[r] = (scores, thresholds_for(scores, Policy()), calibration)
    return out


def table(results: dict) -> dict:
    rows = {}
    for r, (scores, thresholds, calibration) in results.items():
        pair = thresholds_at(thresholds, r)
        for name, by_kind in sorted(scores.scores["test"].items()):
            g, s, rnd = (np.asarray(by_kind[k]) for k in ("genuine", "skilled", "random"))
            seen = outcome(g, s, rnd, pair["accept"], pair["reject"])
            rows[f"{name}_R{r}"] = {
                "skilled_eer": metrics.eer(g, s)[0],
                "random_eer": metrics.eer(g, rnd)[0],
                "forgeries_accepted": seen["forgeries_accepted"],
                "genuine_rejected": seen["genuine_rejected"],
                "automated": 1.0 - referred_of_all(g, s, rnd, pair["accept"], pair["reject"]),
                "accept": pair["accept"],
                "reject": pair["reject"],
                "calibration": calibration.to_dict(),
            }
    return rows


def measure(args) -> None:
    data, background, scorer = load(args)
    print(f"background: {len(background)} embeddings of training writers; SVM C={args.c}")
    report = {}
    for name in args.variants:
        rows = table(variant(data, background, scorer, name, args.c))
        report[name] = rows
        print(f"\n== {name}")
        print("data     R  skilledEER randomEER forgAcc genRej automated  accept  reject")
        for r in REPORT_R:
            auto = []
            for ds in DATASETS:
                row = rows[f"{ds}_R{r}"]
                auto.append(row["automated"])
                print(
                    f"{ds:8s} {r:2d}  {row['skilled_eer']:8.2%} {row['random_eer']:8.2%} "
                    f"{row['forgeries_accepted']:7.2%} {row['genuine_rejected']:6.2%} {row['automated']:8.1%}"
                    f"  {row['accept']:.4f}  {row['reject']:.4f}"
                )
            print(f"{'mean':8s} {r:2d}  automated {np.mean(auto):.1%}")
        sys.stdout.flush()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=float))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("embed", "measure"):
        p = sub.add_parser(name)
        p.add_argument("--model", default="trained_model_parameters")
        p.add_argument("--cache", default="var/emb")
        p.add_argument("--organized", default="organized_data")
        p.add_argument("--split-file", default="image_pairs/splits.csv")
    embed_p = sub.choices["embed"]
    embed_p.add_argument("--per-writer", type=int, default=2, help="background embeddings per training writer")
    embed_p.add_argument("--copies", type=int, default=4, help="synthetic duplicates per reference")
    embed_p.add_argument("--threads", type=int, default=2)
    measure_p = sub.choices["measure"]
    measure_p.add_argument("--variants", nargs="+", default=["single", "per-R", "fused", "fused+dup"])
    measure_p.add_argument("--c", type=float, default=1.0, help="SVM regularisation")
    measure_p.add_argument("--json")
    args = parser.parse_args()
    embed(args) if args.command == "embed" else measure(args)


if __name__ == "__main__":
    main()
