"""Capture-matched references on whole cheques: does comparing a captured signature with references
that went through the same capture win back the automation the cheque capture costs?

The queries are those of ``whole_cheques.py`` (the same writers order, seeds and held-out layouts;
the signature cut with the PROPOSED box, an empty proposal or an unusable crop referred), on the
writers of ``--split``. Each of a writer's R references is also written on a cheque of its own
(seed from 2,000,000 up, held-out layouts) in each capture, cut with its TRUE box and preprocessed
as a query crop: its "captured twin". Reference sets scored, per capture of the query:

- clean: the R clean crops (what the product and ``whole_cheques.py`` do);
- twins: the R captured twins of the query's capture only;
- mean: per reference the mean of the clean and the captured embedding, renormalised;
- both: the R clean crops and the R twins, 2R references (scored and decided at 2R);
- ftwins, fboth: the twins cut with the finder's proposed box (as the query is) instead;
- grey-twins, grey-both: grey-captured twins for the bilevel and dithered queries.

Besides all queries, ``CAPTURE@box``: only the cheques whose most confident box is the signature
(IoU >= 0.5), and ``CAPTURE@true``: the query cut with its TRUE box (what the finder's box costs).
(The validation and test figures of the README were run when the proposed box was still joined with
the layout rule's; a ``CAPTURE@finder`` row then cut with the finder's own box, which is what the
product proposes now.)

Decisions use the shipped model's scoring and its thresholds for the set's R, counted as
``whole_cheques.decisions`` counts them (a forgery call decides). Printed per dataset, capture and
set: forgeries accepted, genuine rejected, automated (decided without a human).

    PYTHONPATH=backend:interface .venv/bin/python benchmarks/capture_references.py \\
        --split val --writers 10 --queries 4 [--json out.json] [--npz embeddings.npz]
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
from sigverify.cheque import find_signature_region  # noqa: E402
from sigverify.cheque_scores import writer_order  # noqa: E402
from sigverify.chequegen import DatasetInk, generate_cheque, iou  # noqa: E402
from sigverify.pairs import read_splits  # noqa: E402
from sigverify.preprocess import load_image  # noqa: E402
from sigverify.signature_finder import find_signatures  # noqa: E402
from whole_cheques import decisions, embed  # noqa: E402

CAPTURES = ("grey", "bilevel", "dithered")
DATASETS = ("cedar", "gpds", "bengali", "hindi")
REF_SEED = 2_000_000
BOTH = {"twins": "both", "ftwins": "fboth", "grey-twins": "grey-both"}


def unit(v):
    return v / np.linalg.norm(v)


def reference_sets(clean, twins: dict):
    """{set name: (R', D) array or None}: ``clean`` (R embeddings or None), ``twins``: {kind: R
    embeddings or None} -> clean, and per kind: the twins alone, ``both`` (clean and twins, 2R) and,
    for the true-box twins, ``mean`` (per reference, renormalised)."""
    out = {}
    keep_clean = [c for c in clean if c is not None]
    out["clean"] = np.stack(keep_clean)
    for kind, tw in twins.items():
        kept = [t for t in tw if t is not None]
        out[kind] = np.stack(kept) if kept else None
        out[BOTH[kind]] = np.concatenate([out["clean"]] + ([out[kind]] if kept else []))
        if kind == "twins":
            mean = []
            for c, t in zip(clean, tw, strict=True):
                if c is None and t is None:
                    continue
                mean.append(unit(c + t) if c is not None and t is not None else (c if c is not None else t))
            out["mean"] = np.stack(mean)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=str(REPO.parent / "shared" / "datasets"))
    parser.add_argument("--split-file", default=str(REPO / "image_pairs" / "splits.csv"))
    parser.add_argument("--model", default=str(REPO / "trained_model_parameters"))
    parser.add_argument("--split", default="val", choices=("val", "test"))
    parser.add_argument("--writers", type=int, default=10)
    parser.add_argument("--queries", type=int, default=4, help="genuine and as many forged queries per writer")
    parser.add_argument("--references", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=list(DATASETS))
    parser.add_argument("--json", help="write the figures here too")
    parser.add_argument("--npz", help="write every embedding here (queries, clean references, twins)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    from sigverify.inference import Verifier

    verifier = Verifier.from_dir(args.model)
    splits = read_splits(args.split_file)
    fillers = DatasetInk(args.datasets, splits, "train")  # the other fields: training writers
    print(machine_line(), f"split {args.split}, inference {verifier.inference_path}", flush=True)
    results, store = {}, {}
    started = time.time()
    for name in args.only:
        signers = DatasetInk(args.datasets, splits, args.split, datasets=(name,))
        writers = writer_order(signers.writers)[: args.writers]
        rows = {}  # (capture, set) -> [(is_genuine, embedding or None, references)], as decisions() takes them
        seed = 0
        ref_seed = REF_SEED
        for writer in writers:
            genuine = signers.samples[writer]["genuine"]
            forged = signers.samples[writer]["forged"]
            ref_paths = genuine[: args.references]
            clean = [embed(verifier, load_image(p)) for p in ref_paths]
            if all(c is None for c in clean):
                continue
            twins, ftwins = {}, {}
            for capture in CAPTURES:
                twins[capture], ftwins[capture] = [], []
                for path in ref_paths:
                    ref_seed += 1
                    cheque = generate_cheque(
                        ref_seed,
                        fillers,
                        families=chequegen.HELD_OUT_FAMILIES,
                        capture=capture,
                        signatures=[chequegen._dataset_darkness(str(path))],
                    )
                    twins[capture].append(embed(verifier, cheque.image, crop=cheque.boxes[0]))
                    # The same cheque cut as a query is: the finder's proposed box.
                    ftwins[capture].append(embed(verifier, cheque.image, crop=find_signature_region(cheque.image).box))
            sets = {}
            for c in CAPTURES:
                kinds = {"twins": twins[c], "ftwins": ftwins[c]}
                if c != "grey":
                    kinds["grey-twins"] = twins["grey"]
                sets[c] = reference_sets(clean, kinds)
            store[writer] = {"clean": clean, "twins": twins, "ftwins": ftwins, "queries": []}
            picks = [(True, p) for p in genuine[args.references : args.references + args.queries]]
            picks += [(False, p) for p in forged[: args.queries]]
            for is_genuine, path in picks:
                rows.setdefault(("crop", "clean"), []).append(
                    (is_genuine, embed(verifier, load_image(path)), sets["grey"]["clean"])
                )
                darkness = chequegen._dataset_darkness(str(path))
                for capture in CAPTURES:
                    seed += 1  # whole_cheques.py's seeds: the same query cheques
                    cheque = generate_cheque(
                        seed, fillers, families=chequegen.HELD_OUT_FAMILIES, capture=capture, signatures=[darkness]
                    )
                    embedding, overlap = None, 0.0
                    found = find_signatures(cheque.image)
                    if found:
                        overlap = iou(found[0].box, cheque.boxes[0])
                        embedding = embed(verifier, cheque.image, crop=find_signature_region(cheque.image, found).box)
                    # The query cut with its true box: what the finder's box costs.
                    true_box = embed(verifier, cheque.image, crop=cheque.boxes[0])
                    store[writer]["queries"].append((capture, is_genuine, embedding, overlap, true_box))
                    for set_name, refs in sets[capture].items():
                        if refs is None:  # no usable twin: the set cannot decide
                            continue
                        rows.setdefault((capture, set_name), []).append((is_genuine, embedding, refs))
                        if overlap >= 0.5:  # the same, on the cheques whose top box is the signature
                            rows.setdefault((capture + "@box", set_name), []).append((is_genuine, embedding, refs))
                        if set_name in ("clean", "twins", "both"):
                            rows.setdefault((capture + "@true", set_name), []).append((is_genuine, true_box, refs))
        results[name] = {}
        for (capture, set_name), queries in rows.items():
            fa, gr, auto, _ = decisions(verifier, queries)
            n = len(queries)
            results[name].setdefault(capture, {})[set_name] = {
                "forgeries_accepted": fa,
                "genuine_rejected": gr,
                "automated": auto,
                "queries": n,
            }
        print(f"\n{name} ({len(writers)} {args.split} writers, {time.time() - started:.0f} s)", flush=True)
        print(f"{'capture':12s} {'references':12s} {'n':>4s} {'FA':>6s} {'GR':>6s} {'auto':>6s}")
        for capture, by_set in results[name].items():
            for set_name, r in by_set.items():
                print(
                    f"{capture:12s} {set_name:12s} {r['queries']:4d} {r['forgeries_accepted']:6.1%}"
                    f" {r['genuine_rejected']:6.1%} {r['automated']:6.1%}",
                    flush=True,
                )
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores. FA: forgeries accepted, GR: genuine"
        " rejected, auto: decided without a human; crop: the query as a clean crop; @box: only the cheques whose"
        " most confident box has IoU >= 0.5 with the signature; @true: the query cut with its true box;"
        " ftwins/fboth: twins cut with the finder's box as a query is; twins: references written on"
        f" cheques of the query's capture (true box); held-out layouts {', '.join(chequegen.HELD_OUT_FAMILIES)}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if args.npz:
        flat = {}
        for w, s in store.items():
            key = w.replace("/", "_")
            dim = next(c for c in s["clean"] if c is not None).shape[0]

            def arr(vs, dim=dim):
                return np.stack([v if v is not None else np.full(dim, np.nan, np.float32) for v in vs])

            flat[f"{key}__clean"] = arr(s["clean"])
            for kind in ("twins", "ftwins"):
                for c, tw in s[kind].items():
                    flat[f"{key}__{kind}_{c}"] = arr(tw)
            flat[f"{key}__queries"] = arr([q[2] for q in s["queries"]])
            flat[f"{key}__queries_true_box"] = arr([q[4] for q in s["queries"]])
            flat[f"{key}__query_meta"] = np.array([[CAPTURES.index(q[0]), q[1], q[3]] for q in s["queries"]])
        np.savez_compressed(args.npz, **flat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
