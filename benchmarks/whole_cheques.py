"""Whole cheques end to end: is the signature found, and what does a cheque cost the decision?

Test writers of each dataset sign generated cheques of the HELD-OUT layout families (never seen
when training the signature finder), with the date, payee, amount and memo filled in by
training writers. Every cheque is captured three ways: greyscale, thresholded bilevel and
dithered bilevel (Floyd-Steinberg, as ``PIL.Image.convert("1")``). Printed per dataset and
capture:

- box found: a box the finder proposes overlaps the written signature with IoU >= 0.5; top:
  its most confident box does (the one verified); extra: proposed boxes that are no signature,
  per cheque; and the proposal time per cheque (``signature_finder.find_signatures`` with its
  second stage; the grouping rules alone, ``rules``, and the old layout rule
  ``cheque.heuristic_signature_region`` beside it);
- verifying with the shipped model at R=5 references from clean crops: forgeries accepted,
  genuine rejected and the share decided without a human, for the signature cut from the
  cheque with the PROPOSED box (the most confident one) and for the same signature as a clean
  crop. The difference is the cheque penalty.

    PYTHONPATH=backend:interface .venv/bin/python benchmarks/whole_cheques.py \\
        [--datasets ../shared/datasets] [--writers 5] [--queries 2] [--json out.json] [--finder-only]

Proposal times are the CPU time of one thread (torch and BLAS threads set to 1), so a shared
machine's waiting is left out; the load average is printed with them.
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
from sigverify.cheque import find_signature_region, heuristic_signature_region  # noqa: E402
from sigverify.cheque_scores import usable_array, writer_order  # noqa: E402
from sigverify.chequegen import DatasetInk, generate_cheque, iou  # noqa: E402
from sigverify.pairs import read_splits  # noqa: E402
from sigverify.preprocess import load_image  # noqa: E402
from sigverify.signature_finder import find_signatures  # noqa: E402
from sigverify.writer_dependent import fit_signer_classifier, load_background  # noqa: E402

CAPTURES = ("grey", "bilevel", "dithered")
DATASETS = ("cedar", "gpds", "bengali", "hindi")


def embed(verifier, image, crop=None):
    """The embedding of an image (a crop of it), None where preprocessing refuses it or its quality
    gate finds it unusable: the product refers those."""
    array = usable_array(verifier, image, crop)
    return None if array is None else verifier.embed_arrays([array])[0]


def decisions(verifier, queries, forgery_decides: bool = True, cheque: bool = False, background=None):
    """queries: [(is_genuine, embedding or None, reference embeddings)] -> accepted forgeries,
    rejected genuine, automated share (an unusable crop counts as referred), and the share of
    genuine ones the model scored under ``reject``. ``forgery_decides`` False: a forgery call is
    referred, as the product does for a box found on a whole cheque where the model has no cheque
    pair (``SIGVERIFY_CHEQUE_FORGERY_DECIDES``); ``cheque``: decided with the card's cheque pair, as
    the service decides such a box. ``background``: the card's shipped background; each writer's
    classifier is fitted on its references against it and fused in, as the service fuses one."""
    fa = gr = auto = scored_forgery = n_forged = n_genuine = 0
    classifiers = {}
    for genuine, embedding, refs in queries:
        if background is not None and id(refs) not in classifiers:
            classifiers[id(refs)] = fit_signer_classifier(refs, background)
        decision = (
            "refer"
            if embedding is None
            else verifier.decide(
                verifier.score(embedding, refs, classifiers.get(id(refs))).score, references=len(refs), cheque=cheque
            )
        )
        n_genuine += genuine
        n_forged += not genuine
        scored_forgery += genuine and decision == "forgery"
        if decision == "forgery" and not forgery_decides:
            decision = "refer"
        # Verifier.decide's words: genuine / refer / forgery.
        fa += (not genuine) and decision == "genuine"
        gr += genuine and decision == "forgery"
        auto += decision != "refer"
    n_genuine = max(n_genuine, 1)
    return fa / max(n_forged, 1), gr / n_genuine, auto / max(n_genuine + n_forged, 1), scored_forgery / n_genuine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=str(REPO.parent / "shared" / "datasets"))
    parser.add_argument("--split-file", default=str(REPO / "image_pairs" / "splits.csv"))
    parser.add_argument("--model", default=str(REPO / "trained_model_parameters"))
    parser.add_argument("--writers", type=int, default=5, help="test writers per dataset")
    parser.add_argument(
        "--offset", type=int, default=0, help="skip this many test writers first (a second set of writers)"
    )
    parser.add_argument("--captures", nargs="*", default=list(CAPTURES), choices=CAPTURES)
    parser.add_argument("--queries", type=int, default=2, help="genuine and as many forged queries per writer")
    parser.add_argument("--references", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=list(DATASETS))
    parser.add_argument("--json", help="write the figures here too")
    parser.add_argument("--finder-only", action="store_true", help="box figures only (no verification)")
    parser.add_argument(
        "--card",
        help="model dir whose model_card.json gets these figures (whole_cheques) and MODEL_CARD.md re-rendered",
    )
    parser.add_argument(
        "--forgery-decides",
        action="store_true",
        help="a forgery call on a cheque's box decides where the card has no cheque pair, or with --clean-points"
        " (SIGVERIFY_CHEQUE_FORGERY_DECIDES=true); default: it decides at the card's cheque pair where it has one,"
        " else it is referred",
    )
    parser.add_argument(
        "--clean-points",
        action="store_true",
        help="decide cheque crops at the clean-crop points even where the card has a cheque pair (before it)",
    )
    parser.add_argument(
        "--two-signers",
        action="store_true",
        help="instead: two test writers sign side by side on held-out two-line company cheques (uk_company);"
        " both found, each found, joined into one box",
    )
    args = parser.parse_args()
    if args.card and args.finder_only:
        parser.error("--card needs the verification figures: leave out --finder-only")
    if args.two_signers:
        return two_signers(args)

    import torch

    torch.set_num_threads(1)
    from sigverify.inference import Verifier

    verifier = None if args.finder_only else Verifier.from_dir(args.model)
    background = None if verifier is None else load_background(args.model, verifier.card)
    cheque_pair = verifier is not None and verifier.card.thresholds.cheque is not None and not args.clean_points
    forgery_decides = args.forgery_decides or cheque_pair
    splits = read_splits(args.split_file)
    fillers = DatasetInk(args.datasets, splits, "train")  # the other fields: training writers
    results = {}
    header = (
        f"{'dataset':8s} {'capture':9s} {'cheques':>7s} {'found':>6s} {'top':>6s} {'extra':>5s} {'ms':>5s} {'ms p95':>6s}"
        f" | {'rules':>6s} {'top':>6s} {'extra':>5s} {'ms':>5s} | {'old':>6s}"
        f" | {'FA chq':>6s} {'GR chq':>6s} {'auto chq':>8s} {'<rej':>6s} | {'FA crop':>7s} {'GR crop':>7s} {'auto crop':>9s}"
    )
    print(machine_line())
    print(header)
    print("-" * len(header))
    for name in args.only:
        signers = DatasetInk(args.datasets, splits, "test", datasets=(name,))
        writers = writer_order(signers.writers)[args.offset : args.offset + args.writers]
        per_capture = {c: {k: [] for k in ("found", "top", "extra", "ms", "rules", "queries")} for c in CAPTURES}
        for stats in per_capture.values():
            stats["old"] = 0
        crop_queries = []
        seed = 0
        for writer in writers:
            genuine = signers.samples[writer]["genuine"]
            forged = signers.samples[writer]["forged"]
            refs = None
            if not args.finder_only:
                refs = [embed(verifier, load_image(p)) for p in genuine[: args.references]]
                refs = np.stack([r for r in refs if r is not None])
            picks = [(True, p) for p in genuine[args.references : args.references + args.queries]]
            picks += [(False, p) for p in forged[: args.queries]]
            for is_genuine, path in picks:
                if not args.finder_only:
                    crop_queries.append((is_genuine, embed(verifier, load_image(path)), refs))
                darkness = chequegen._dataset_darkness(str(path))
                for capture in CAPTURES:
                    seed += 1
                    if capture not in args.captures:  # the same cheques whichever captures are measured
                        continue
                    cheque = generate_cheque(
                        seed, fillers, families=chequegen.HELD_OUT_FAMILIES, capture=capture, signatures=[darkness]
                    )
                    truth = cheque.boxes[0]
                    stats = per_capture[capture]
                    for key, box_trees in (("rules", None), ("", True)):
                        started = time.process_time()  # CPU time: one core's cost, however busy the machine
                        found = find_signatures(cheque.image, box_trees=box_trees)
                        ms = 1000 * (time.process_time() - started)
                        overlaps = [iou(f.box, truth) for f in found]
                        row = (max(overlaps, default=0) >= 0.5, bool(overlaps) and overlaps[0] >= 0.5)
                        row += (sum(o < 0.5 for o in overlaps), ms)
                        if key:
                            stats["rules"].append(row)
                    stats["found"].append(row[0])
                    stats["top"].append(row[1])
                    stats["extra"].append(row[2])
                    stats["ms"].append(row[3])
                    stats["old"] += iou(heuristic_signature_region(cheque.image).box, truth) >= 0.5
                    embedding = None
                    if found and not args.finder_only:  # verify what the product would send: its proposed crop
                        embedding = embed(verifier, cheque.image, find_signature_region(cheque.image, found).box)
                    stats["queries"].append((is_genuine, embedding, refs))
        crop_fa, crop_gr, crop_auto, _ = (
            decisions(verifier, crop_queries, background=background) if crop_queries else (np.nan,) * 4
        )
        results[name] = {}
        for capture in args.captures:
            stats = per_capture[capture]
            n = len(stats["ms"])
            fa, gr, auto, under = (
                decisions(verifier, stats["queries"], forgery_decides, cheque_pair, background)
                if not args.finder_only
                else (np.nan,) * 4
            )
            rules = np.array(stats["rules"], np.float64)
            row = {
                "cheques": n,
                "box_found": float(np.mean(stats["found"])),
                "top_box_found": float(np.mean(stats["top"])),
                "extra_boxes": float(np.mean(stats["extra"])),
                "heuristic_box_found": stats["old"] / n,
                "proposal_ms_mean": float(np.mean(stats["ms"])),
                "proposal_ms_p95": float(np.percentile(stats["ms"], 95)),
                "rules_only": {
                    "box_found": float(rules[:, 0].mean()),
                    "top_box_found": float(rules[:, 1].mean()),
                    "extra_boxes": float(rules[:, 2].mean()),
                    "proposal_ms_mean": float(rules[:, 3].mean()),
                },
                "cheque": {
                    "forgeries_accepted": fa,
                    "genuine_rejected": gr,
                    "automated": auto,
                    "scored_forgery": under,
                },
                "clean_crop": {"forgeries_accepted": crop_fa, "genuine_rejected": crop_gr, "automated": crop_auto},
            }
            results[name][capture] = row
            print(
                f"{name:8s} {capture:9s} {n:7d} {row['box_found']:6.1%} {row['top_box_found']:6.1%}"
                f" {row['extra_boxes']:5.2f} {row['proposal_ms_mean']:5.0f} {row['proposal_ms_p95']:6.0f}"
                f" | {rules[:, 0].mean():6.1%} {rules[:, 1].mean():6.1%} {rules[:, 2].mean():5.2f}"
                f" {rules[:, 3].mean():5.0f} | {row['heuristic_box_found']:6.1%}"
                f" | {fa:6.1%} {gr:6.1%} {auto:8.1%} {under:6.1%} | {crop_fa:7.1%} {crop_gr:7.1%} {crop_auto:9.1%}",
                flush=True,
            )
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; ms: CPU time of one thread per cheque.\n"
        "found: a proposed box with IoU >= 0.5 with the written signature; top: the most confident box is;"
        " extra: proposed boxes that are not, per cheque; rules: the grouping rules without the second stage;"
        " old: the layout heuristic's one box;"
        " FA/GR/auto: forgeries accepted, genuine rejected, decided without a human; <rej: genuine scored under"
        " reject (the card's cheque pair where it has one, else referred unless --forgery-decides); chq: the proposed box"
        f" on the cheque, crop: the same signature as a clean crop; held-out layouts {', '.join(chequegen.HELD_OUT_FAMILIES)}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if args.card:
        write_card(Path(args.card), results, args, cheque_pair)
    return 0


def two_signers(args) -> int:
    """Two signatures side by side (a company's two signatories, each on its own line of one row)
    on held-out ``uk_company`` cheques: genuine signatures of two different test writers of the
    dataset. Per capture: both signatures found (each by a box with IoU >= 0.5), signatures
    found, cheques where a proposed box joined the two (IoU >= 0.5 with their union), CPU ms."""
    splits = read_splits(args.split_file)
    fillers = DatasetInk(args.datasets, splits, "train")
    print(machine_line())
    print(
        f"{'dataset':8s} {'capture':9s} {'cheques':>7s} {'both':>6s} {'each':>6s} {'joined':>6s} {'extra':>5s} {'ms':>5s}"
    )
    results = {}
    for name in args.only:
        signers = DatasetInk(args.datasets, splits, "test", datasets=(name,))
        writers = writer_order(signers.writers)[args.offset : args.offset + args.writers]
        stats = {c: [] for c in CAPTURES}
        seed = 500_000
        for k, writer in enumerate(writers):
            other = writers[(k + 1) % len(writers)]
            for q in range(args.queries):
                pair = [signers.samples[w]["genuine"][args.references + q] for w in (writer, other)]
                dark = [chequegen._dataset_darkness(str(p)) for p in pair]
                for capture in CAPTURES:
                    seed += 1
                    if capture not in args.captures:
                        continue
                    cheque = generate_cheque(seed, fillers, family="uk_company", capture=capture, signatures=dark)
                    started = time.process_time()
                    found = find_signatures(cheque.image)
                    ms = 1000 * (time.process_time() - started)
                    a, b = cheque.boxes
                    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
                    union = (x0, y0, max(a[0] + a[2], b[0] + b[2]) - x0, max(a[1] + a[3], b[1] + b[3]) - y0)
                    hits = [max((iou(f.box, t) for f in found), default=0) >= 0.5 for t in cheque.boxes]
                    joined = any(iou(f.box, union) >= 0.5 for f in found)
                    extra = sum(max(iou(f.box, t) for t in cheque.boxes) < 0.5 for f in found)
                    stats[capture].append((all(hits), np.mean(hits), joined, extra, ms))
        results[name] = {}
        for capture in args.captures:
            rows = np.array(stats[capture], np.float64)
            both, each, joined, extra, ms = rows.mean(axis=0)
            results[name][capture] = {"cheques": len(rows), "both_found": both, "signatures_found": each}
            results[name][capture].update({"joined": joined, "extra_boxes": extra, "proposal_ms_mean": ms})
            print(
                f"{name:8s} {capture:9s} {len(rows):7d} {both:6.1%} {each:6.1%} {joined:6.1%} {extra:5.2f} {ms:5.0f}",
                flush=True,
            )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; held-out layout uk_company, two signers")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def write_card(directory: Path, results: dict, args, cheque_pair: bool) -> None:
    from sigverify import signature_finder
    from sigverify.card_markdown import render_markdown
    from sigverify.weights import CARD_FILE

    card = json.loads((directory / CARD_FILE).read_text())
    rows = [{"dataset": d, "capture": c, **row} for d, by_capture in results.items() for c, row in by_capture.items()]
    card["whole_cheques"] = {
        "layouts": list(chequegen.HELD_OUT_FAMILIES),
        "machine": machine_line(),
        "finder_sha256": signature_finder.card().get("sha256"),
        "command": f"benchmarks/whole_cheques.py --writers {args.writers} --queries {args.queries} --card {args.card}"
        + (" --forgery-decides" if args.forgery_decides else "")
        + (" --clean-points" if args.clean_points else ""),
        "forgery_decides": args.forgery_decides,
        "cheque_pair": cheque_pair,
        "rows": rows,
    }
    (directory / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    (directory / "MODEL_CARD.md").write_text(render_markdown(card))


if __name__ == "__main__":
    raise SystemExit(main())
