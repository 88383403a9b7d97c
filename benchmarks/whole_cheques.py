"""Whole cheques end to end: is the signature found, and what does a cheque cost the decision?

Test writers of each dataset sign generated cheques of the HELD-OUT layout families (never seen
when training the signature finder), with the date, payee, amount and memo filled in by
training writers. Every cheque is captured three ways: greyscale, thresholded bilevel and
dithered bilevel (Floyd-Steinberg, as ``PIL.Image.convert("1")``). Printed per dataset and
capture:

- box found: a box the finder proposes overlaps the written signature with IoU >= 0.5, and
  the proposal time per cheque (``signature_finder.find_signatures``; the old heuristic
  ``cheque.heuristic_signature_region`` beside it);
- verifying with the shipped model at R=5 references from clean crops: forgeries accepted,
  genuine rejected and the share decided without a human, for the signature cut from the
  cheque with the PROPOSED box (the most confident one) and for the same signature as a clean
  crop. The difference is the cheque penalty.

    PYTHONPATH=backend:interface .venv/bin/python benchmarks/whole_cheques.py \\
        [--datasets ../shared/datasets] [--writers 5] [--queries 2] [--json out.json]

Proposal times are the CPU time of one thread (torch and BLAS threads set to 1), so a shared
machine's waiting is left out; the load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "backend"))

from sigverify import chequegen  # noqa: E402
from sigverify.cheque import find_signature_region, heuristic_signature_region  # noqa: E402
from sigverify.chequegen import DatasetInk, generate_cheque, iou  # noqa: E402
from sigverify.pairs import read_splits  # noqa: E402
from sigverify.preprocess import load_image, preprocess_image  # noqa: E402
from sigverify.signature_finder import find_signatures  # noqa: E402

CAPTURES = ("grey", "bilevel", "dithered")
DATASETS = ("cedar", "gpds", "bengali", "hindi")


def clean_embed(verifier, path):
    array, quality = preprocess_image(load_image(path), size=verifier.input_size)
    return verifier.embed_arrays([array])[0] if getattr(quality, "usable", True) else None


def decisions(verifier, queries):
    """queries: [(is_genuine, embedding or None, reference embeddings)] -> accepted forgeries,
    rejected genuine, automated share (an unusable crop counts as referred)."""
    fa = gr = auto = n_forged = n_genuine = 0
    for genuine, embedding, refs in queries:
        decision = (
            "refer"
            if embedding is None
            else verifier.decide(verifier.score(embedding, refs).score, references=len(refs))
        )
        n_genuine += genuine
        n_forged += not genuine
        fa += (not genuine) and decision == "accept"
        gr += genuine and decision == "reject"
        auto += decision != "refer"
    return fa / max(n_forged, 1), gr / max(n_genuine, 1), auto / max(n_genuine + n_forged, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=str(REPO.parent / "shared" / "datasets"))
    parser.add_argument("--split-file", default=str(REPO / "image_pairs" / "splits.csv"))
    parser.add_argument("--model", default=str(REPO / "trained_model_parameters"))
    parser.add_argument("--writers", type=int, default=5, help="test writers per dataset")
    parser.add_argument("--queries", type=int, default=2, help="genuine and as many forged queries per writer")
    parser.add_argument("--references", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=list(DATASETS))
    parser.add_argument("--json", help="write the figures here too")
    parser.add_argument(
        "--card",
        help="model dir whose model_card.json gets these figures (whole_cheques) and MODEL_CARD.md re-rendered",
    )
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    from sigverify.inference import Verifier

    verifier = Verifier.from_dir(args.model)
    splits = read_splits(args.split_file)
    fillers = DatasetInk(args.datasets, splits, "train")  # the other fields: training writers
    results = {}
    header = (
        f"{'dataset':8s} {'capture':9s} {'cheques':>7s} {'found':>6s} {'old':>6s} {'ms':>5s} {'ms p95':>6s}"
        f" | {'FA chq':>6s} {'GR chq':>6s} {'auto chq':>8s} | {'FA crop':>7s} {'GR crop':>7s} {'auto crop':>9s}"
    )
    print(header)
    print("-" * len(header))
    for name in args.only:
        signers = DatasetInk(args.datasets, splits, "test", datasets=(name,))
        rng = np.random.default_rng(0)
        writers = sorted(signers.writers, key=lambda w: rng.random())[: args.writers]
        per_capture = {c: {"found": 0, "old": 0, "ms": [], "queries": []} for c in CAPTURES}
        crop_queries = []
        seed = 0
        for writer in writers:
            genuine = signers.samples[writer]["genuine"]
            forged = signers.samples[writer]["forged"]
            refs = [clean_embed(verifier, p) for p in genuine[: args.references]]
            refs = np.stack([r for r in refs if r is not None])
            picks = [(True, p) for p in genuine[args.references : args.references + args.queries]]
            picks += [(False, p) for p in forged[: args.queries]]
            for is_genuine, path in picks:
                crop_queries.append((is_genuine, clean_embed(verifier, path), refs))
                darkness = chequegen._dataset_darkness(str(path))
                for capture in CAPTURES:
                    seed += 1
                    cheque = generate_cheque(
                        seed, fillers, families=chequegen.HELD_OUT_FAMILIES, capture=capture, signatures=[darkness]
                    )
                    truth = cheque.boxes[0]
                    started = time.process_time()  # CPU time: one core's cost, however busy the machine
                    found = find_signatures(cheque.image)
                    stats = per_capture[capture]
                    stats["ms"].append(1000 * (time.process_time() - started))
                    stats["found"] += max((iou(f.box, truth) for f in found), default=0) >= 0.5
                    stats["old"] += iou(heuristic_signature_region(cheque.image).box, truth) >= 0.5
                    embedding = None
                    if found:  # verify what the product would send: its proposed crop
                        try:
                            crop = find_signature_region(cheque.image).box
                            array, quality = preprocess_image(cheque.image, size=verifier.input_size, crop=crop)
                            # The quality gate, where preprocessing has one: an unusable crop is referred.
                            usable = getattr(quality, "usable", True)
                            embedding = verifier.embed_arrays([array])[0] if usable else None
                        except Exception:  # an unusable crop: the product refers it
                            embedding = None
                    stats["queries"].append((is_genuine, embedding, refs))
        crop_fa, crop_gr, crop_auto = decisions(verifier, crop_queries)
        results[name] = {}
        for capture in CAPTURES:
            stats = per_capture[capture]
            n = len(stats["ms"])
            fa, gr, auto = decisions(verifier, stats["queries"])
            row = {
                "cheques": n,
                "box_found": stats["found"] / n,
                "heuristic_box_found": stats["old"] / n,
                "proposal_ms_mean": float(np.mean(stats["ms"])),
                "proposal_ms_p95": float(np.percentile(stats["ms"], 95)),
                "cheque": {"forgeries_accepted": fa, "genuine_rejected": gr, "automated": auto},
                "clean_crop": {"forgeries_accepted": crop_fa, "genuine_rejected": crop_gr, "automated": crop_auto},
            }
            results[name][capture] = row
            print(
                f"{name:8s} {capture:9s} {n:7d} {row['box_found']:6.1%} {row['heuristic_box_found']:6.1%}"
                f" {row['proposal_ms_mean']:5.0f} {row['proposal_ms_p95']:6.0f}"
                f" | {fa:6.1%} {gr:6.1%} {auto:8.1%} | {crop_fa:7.1%} {crop_gr:7.1%} {crop_auto:9.1%}",
                flush=True,
            )
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; ms: CPU time of one thread per cheque.\n"
        "found: a proposed box with IoU >= 0.5 with the written signature (old: the heuristic's one box);"
        " FA/GR/auto: forgeries accepted, genuine rejected, decided without a human; chq: the proposed box"
        f" on the cheque, crop: the same signature as a clean crop; held-out layouts {', '.join(chequegen.HELD_OUT_FAMILIES)}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if args.card:
        write_card(Path(args.card), results, args)
    return 0


def write_card(directory: Path, results: dict, args) -> None:
    from sigverify import signature_finder
    from sigverify.card_markdown import render_markdown
    from sigverify.weights import CARD_FILE

    card = json.loads((directory / CARD_FILE).read_text())
    rows = [{"dataset": d, "capture": c, **row} for d, by_capture in results.items() for c, row in by_capture.items()]
    card["whole_cheques"] = {
        "layouts": list(chequegen.HELD_OUT_FAMILIES),
        "finder_sha256": signature_finder.card().get("sha256"),
        "command": f"benchmarks/whole_cheques.py --writers {args.writers} --queries {args.queries} --card {args.card}",
        "rows": rows,
    }
    (directory / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    (directory / "MODEL_CARD.md").write_text(render_markdown(card))


if __name__ == "__main__":
    raise SystemExit(main())
