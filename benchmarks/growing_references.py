#!/usr/bin/env python
"""What growing a signer's references from 3 card specimens to 10 with confirmed genuine cheques does.

    nice -n 10 .venv/bin/python benchmarks/growing_references.py --model trained_model_parameters

Per test writer of organized_data/{cedar,gpds,bengali,hindi} (image_pairs/splits.csv), as the
service does it (``SIGVERIFY_GROW_REFERENCES``): the signer starts with the first 3 genuine
samples as the signature card; the next genuine samples arrive one by one as cheques, each is
verified against the references of the moment, a clerk confirms it genuine, and it joins the
references when the signer has fewer than 10 and it is consistent with them. Two consistency
rules (``SIGVERIFY_GROW_MIN_DECISION``): ``genuine`` (score at or above the accept threshold) and
``refer`` (not below reject), and ``every`` (no check: every confirmed cheque joins, the bound).
The last third of each writer's genuine samples, its skilled forgeries and one genuine sample of
every other test writer (random forgeries) are held out and decided with the references each
signer had at each R, at the shipped model's thresholds for that R where its card has them.

Printed per dataset, rule and R: writers that reached R, forgeries accepted (skilled, random),
genuine rejected, and the share of held-out queries decided without a human. Images are
preprocessed once into ``sigverify.cache`` (shared with the other scripts).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from calibration_by_capture import CAPTURE
from sigverify.embedding import embed_split
from sigverify.inference import Verifier, limit_threads
from sigverify.scoring import decide

CARD = 3
CAP = 10
RULES = ("genuine", "refer", "every")


def thresholds(verifier: Verifier, references: int) -> tuple[float, float]:
    """(accept, reject) for a signer with ``references`` references: the card's pair for that R where
    the card has pairs per R, else its single pair."""
    if hasattr(verifier, "thresholds_for"):
        pair = verifier.thresholds_for(references)
        return float(pair["accept"]), float(pair["reject"])
    return verifier.accept, verifier.reject


def grown_reference_sets(verifier, card, stream, rule: str) -> dict[int, np.ndarray]:
    """R -> the references the signer had when it first had R, growing from ``card`` through ``stream``."""
    references = list(card)
    sets = {len(references): np.stack(references)}
    for cheque in stream:
        if len(references) >= CAP:
            break
        matrix = np.stack(references)
        score = verifier.score(cheque, matrix).score
        accept, reject = thresholds(verifier, len(matrix))
        if rule == "every" or score >= (accept if rule == "genuine" else reject):
            references.append(cheque)
            sets[len(references)] = np.stack(references)
    return sets


def decisions(verifier, references: np.ndarray, queries: np.ndarray) -> list[str]:
    accept, reject = thresholds(verifier, len(references))
    return [decide(verifier.score(q, references).score, accept, reject) for q in queries]


def simulate(verifier, embeddings: np.ndarray, groups: dict, rule: str) -> dict[int, dict]:
    """R -> counts of decisions on the held-out queries, over the writers that reached R."""
    random_probe = {w: g["genuine"][0] for w, g in groups.items() if g["genuine"]}
    totals: dict[int, dict] = {}
    for writer, group in groups.items():
        genuine = group["genuine"]
        held_from = len(genuine) - max(1, len(genuine) // 3)
        if held_from <= CARD:
            continue
        card, stream, held = genuine[:CARD], genuine[CARD:held_from], genuine[held_from:]
        others = [i for w, i in random_probe.items() if w != writer]
        sets = grown_reference_sets(verifier, embeddings[card], embeddings[stream], rule)
        for r, references in sets.items():
            row = totals.setdefault(r, {"writers": 0, "genuine": [], "skilled": [], "random": []})
            row["writers"] += 1
            for kind, idx in (("genuine", held), ("skilled", group["forged"]), ("random", others)):
                if idx:
                    row[kind] += decisions(verifier, references, embeddings[idx])
    return totals


def summary(row: dict) -> dict:
    def share(kind, decision):
        values = row[kind]
        return sum(d == decision for d in values) / len(values) if values else float("nan")

    every = row["genuine"] + row["skilled"] + row["random"]
    return {
        "writers": row["writers"],
        "skilled_accepted": share("skilled", "genuine"),
        "random_accepted": share("random", "genuine"),
        "genuine_rejected": share("genuine", "forgery"),
        "automated": sum(d != "refer" for d in every) / len(every) if every else float("nan"),
        "queries": len(every),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--model", default="trained_model_parameters")
    parser.add_argument("--organized", default="organized_data")
    parser.add_argument("--split-file", default="image_pairs/splits.csv")
    parser.add_argument("--datasets", nargs="+", default=list(CAPTURE))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    limit_threads(args.threads)
    started = time.perf_counter()
    verifier = Verifier.from_dir(args.model, precision="fp32")
    figures: dict = {}
    for name in args.datasets:
        embeddings, groups = embed_split(verifier, f"{args.organized}/{name}", "folders", args.split_file, "test")
        print(f"\n{name}: {len(groups)} test writers, {len(embeddings)} images")
        print(
            f"{'rule':8s} {'R':>3s} {'writers':>7s} {'skilled acc':>11s} {'random acc':>10s} {'gen rej':>8s} {'automated':>9s}"
        )
        for rule in RULES:
            for r, row in sorted(simulate(verifier, embeddings, groups, rule).items()):
                s = summary(row)
                figures.setdefault(name, {}).setdefault(rule, {})[str(r)] = s
                print(
                    f"{rule:8s} {r:3d} {s['writers']:7d} {s['skilled_accepted']:11.2%} {s['random_accepted']:10.2%} "
                    f"{s['genuine_rejected']:8.2%} {s['automated']:9.1%}"
                )
    print(f"\n{time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"model": args.model, "card": CARD, "cap": CAP, "datasets": figures}, fh, indent=2)


if __name__ == "__main__":
    main()
