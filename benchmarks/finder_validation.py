"""The signature finder on VALIDATION writers: compare two sets of finder files (to select a refit).

Validation writers of every dataset sign generated cheques, half of the training layout
families and half of the held-out ones (``chequegen.HELD_OUT_FAMILIES``), the other fields
filled in by training writers. Each signature is captured three ways (grey, thresholded and
dithered bilevel, as in ``whole_cheques.py``, with other seeds). Each cheque's components are
computed once and scored by every set of files given with ``--files`` (a folder holding
``signature_finder.npz`` and ``signature_boxes.npz``; default: the shipped ones). Printed per
set, layout kind and capture:

- found: a proposed box has IoU >= 0.5 with the written signature; top: the most confident does;
- sure: the most confident box is the signature and its confidence is at least
  ``signature_finder.LOW_CONFIDENCE`` (under it, a box decides a cheque only where a signatory
  accepts it);
- cand: some candidate box (before the second stage ranks them) has IoU >= 0.5;
- extra: proposed boxes that are no signature, per cheque; ms: CPU ms of scoring and picking.

    PYTHONPATH=backend:interface .venv/bin/python benchmarks/finder_validation.py \\
        --files /path/to/other/backend/sigverify backend/sigverify [--signatures 240]

The test writers are left to ``whole_cheques.py``: select on these figures, report those.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from benchlib import REPO, machine_line  # noqa: E402  (puts backend/ on sys.path)
from sigverify import chequegen  # noqa: E402
from sigverify import signature_finder as finder  # noqa: E402
from sigverify.chequegen import DatasetInk, generate_cheque, iou  # noqa: E402
from sigverify.pairs import read_splits  # noqa: E402

CAPTURES = ("grey", "bilevel", "dithered")
DATASETS = ("cedar", "gpds", "bengali", "hindi")
SEED_OFFSET = 7_000_000  # other seeds than the finder's training and card cheques and the benchmark's


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=str(REPO.parent / "shared" / "datasets"))
    parser.add_argument("--split-file", default=str(REPO / "image_pairs" / "splits.csv"))
    parser.add_argument(
        "--files", nargs="+", default=[str(finder.MODEL_PATH.parent)], help="folders of finder files to compare"
    )
    parser.add_argument("--signatures", type=int, default=240, help="validation signatures (each on 3 captures)")
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()

    if len(set(args.files)) != len(args.files):
        parser.error("--files: each folder once")
    sets = []
    for folder in args.files:
        folder = Path(folder)
        trees = finder.Trees.load(folder / finder.MODEL_PATH.name)
        box_trees = finder.Trees.load(folder / finder.BOXES_PATH.name)
        sets.append((str(folder), trees, box_trees))
    splits = read_splits(args.split_file)
    fillers = DatasetInk(args.datasets, splits, "train")
    signers = {}
    for name in DATASETS:
        try:
            signers[name] = DatasetInk(args.datasets, splits, "val", datasets=(name,))
        except ValueError:
            continue
    rng = np.random.default_rng(0)
    picks = []  # (dataset, path): writers in turn, genuine and forged alternately
    order = {n: sorted(s.writers, key=lambda w: rng.random()) for n, s in signers.items()}
    k = 0
    while len(picks) < args.signatures:
        name = list(signers)[k % len(signers)]
        writers = order[name]
        writer = writers[(k // len(signers)) % len(writers)]
        kind = "forged" if (k // (2 * len(signers))) % 2 else "genuine"
        paths = signers[name].samples[writer][kind] or signers[name].samples[writer]["genuine"]
        picks.append((name, paths[int(rng.integers(0, len(paths)))]))
        k += 1

    rows = {s[0]: [] for s in sets}
    print(machine_line(), flush=True)
    seed = SEED_OFFSET
    for i, (name, path) in enumerate(picks):
        darkness = chequegen._dataset_darkness(str(path))
        layouts = "held_out" if i % 2 else "training"
        families = chequegen.HELD_OUT_FAMILIES if layouts == "held_out" else chequegen.TRAINING_FAMILIES
        for capture in CAPTURES:
            seed += 1
            cheque = generate_cheque(seed, fillers, families=families, capture=capture, signatures=[darkness])
            truth = cheque.boxes[0]
            comps = finder.components(cheque.image)
            for folder, trees, box_trees in sets:
                started = time.process_time()
                if comps.features.shape[0]:
                    probability = trees.probability(comps.features)
                    found = finder.pick_signatures(comps, probability, box_trees)
                else:
                    probability, found = None, []
                ms = 1000 * (time.process_time() - started)
                overlaps = [iou(f.box, truth) for f in found]
                cand = 0.0
                if probability is not None:
                    boxes, _ = finder.candidate_boxes(comps, probability)
                    if len(boxes):
                        cand = float(finder.box_targets(comps, boxes, [truth]).max())
                rows[folder].append(
                    {
                        "dataset": name,
                        "layouts": layouts,
                        "capture": capture,
                        "seed": seed,
                        "found": max(overlaps, default=0) >= 0.5,
                        "top": bool(overlaps) and overlaps[0] >= 0.5,
                        "sure": bool(overlaps) and overlaps[0] >= 0.5 and found[0].confidence >= finder.LOW_CONFIDENCE,
                        "cand": cand >= 0.5,
                        "extra": sum(o < 0.5 for o in overlaps),
                        "ms": ms,
                    }
                )
        if (i + 1) % 40 == 0:
            print(f"  {i + 1}/{len(picks)} signatures", flush=True)

    header = f"{'files':40s} {'layouts':9s} {'capture':9s} {'cheques':>7s} {'found':>6s} {'top':>6s} {'sure':>6s} {'cand':>6s} {'extra':>5s} {'ms':>5s}"
    print(header)
    print("-" * len(header))
    summary = {}
    for folder, _, _ in sets:
        summary[folder] = {}
        for layouts in ("training", "held_out", "all"):
            for capture in CAPTURES + ("all",):
                rr = [r for r in rows[folder] if layouts in ("all", r["layouts"]) and capture in ("all", r["capture"])]
                if not rr:
                    continue
                row = {
                    key: float(np.mean([r[key] for r in rr])) for key in ("found", "top", "sure", "cand", "extra", "ms")
                }
                row["cheques"] = len(rr)
                row["found_count"] = int(sum(r["found"] for r in rr))
                summary[folder][f"{layouts}/{capture}"] = row
                print(
                    f"{folder[-40:]:40s} {layouts:9s} {capture:9s} {len(rr):7d} {row['found']:6.1%} {row['top']:6.1%}"
                    f" {row['sure']:6.1%} {row['cand']:6.1%} {row['extra']:5.2f} {row['ms']:5.0f}"
                )
        by_dataset = {d: f"{np.mean([r['found'] for r in rows[folder] if r['dataset'] == d]):.1%}" for d in signers}
        print(f"{'':40s} found per dataset: {by_dataset}")
    if len(sets) == 2:
        a, b = (rows[s[0]] for s in sets)
        gained = sum((not x["found"]) and y["found"] for x, y in zip(a, b, strict=True))
        lost = sum(x["found"] and not y["found"] for x, y in zip(a, b, strict=True))
        print(f"second set against the first: {gained} cheques found that were not, {lost} lost")
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; ms: CPU time of one thread per cheque"
        " (scoring and picking; the components, shared by every set, left out)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
