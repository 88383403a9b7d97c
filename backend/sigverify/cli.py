"""The ``sigverify`` command: import-data, make-pairs, train, evaluate, publish, export-onnx.

Every subcommand has ``--help``; long steps show a tqdm progress bar.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

from . import options
from .datasets import LAYOUTS
from .errors import DatasetError, ImageRejected, ModelLoadError
from .options import REPO_ROOT


def _size(text: str) -> tuple[int, int]:
    h, w = options.parse_size(text)
    if h < 16 or w < 16:
        raise argparse.ArgumentTypeError("size must be at least 16x16")
    return h, w


def cmd_import_data(args) -> int:
    from .datasets import DUPLICATES, counts, import_dataset, read_duplicates

    dest = Path(args.out) / (args.name or Path(args.data).resolve().name.lower())
    samples = import_dataset(args.data, args.layout, dest)
    c = counts(samples)
    print(f"imported {args.layout} tree {args.data} -> {dest}")
    print(f"writers: {c['writers']}  genuine: {c['genuine']}  forged: {c['forged']}  manifest: {dest / 'manifest.csv'}")
    dupes = read_duplicates(dest)
    by_writer = Counter(d["writer"] for d in dupes)
    print(f"exact duplicates left out: {len(dupes)} images of {len(by_writer)} writers (listed in {dest / DUPLICATES})")
    if not args.no_cache:
        from .cache import ImageCache
        from .datasets import load_dataset

        root, absolute = load_dataset(dest)
        cache = ImageCache.build(absolute, root, args.size)
        print(f"preprocessed cache: {cache.location} ({args.size[0]}x{args.size[1]})")
    return 0


def cmd_make_pairs(args) -> int:
    from .datasets import load_dataset
    from .pairs import assign_splits_per_dataset, make_pairs, read_splits, write_pairs, write_splits, writer_key

    samples_by_key = {}
    for d in args.data:
        root, samples = load_dataset(d)
        name = Path(d).resolve().name
        for s in samples:
            rel = (
                Path(s.path).resolve().relative_to(REPO_ROOT)
                if Path(s.path).resolve().is_relative_to(REPO_ROOT)
                else s.path
            )
            samples_by_key.setdefault(writer_key(name, s.writer), []).append(
                s.__class__(rel, s.writer, s.label, s.sample)
            )
    out = Path(args.out)
    split_path = out / "splits.csv"
    if split_path.exists() and not args.reassign:
        splits = read_splits(split_path)
        missing = sorted(set(samples_by_key) - set(splits))
        splits.update(assign_splits_per_dataset(missing, args.val_fraction, args.test_fraction, args.seed))
    else:
        splits = assign_splits_per_dataset(samples_by_key, args.val_fraction, args.test_fraction, args.seed)
    write_splits(split_path, splits)
    rows = make_pairs(samples_by_key, splits, seed=args.seed, per_writer=args.per_writer)
    write_pairs(out / "pairs.csv", rows)
    table = Counter((r["split"], r["kind"]) for r in rows)
    print(f"{len(rows)} pairs -> {out / 'pairs.csv'}; writer splits -> {split_path}")
    for split in ("train", "val", "test"):
        n_w = sum(1 for k in splits.values() if k == split)
        parts = ", ".join(
            f"{kind} {table[(split, kind)]}" for kind in ("genuine-genuine", "genuine-skilled", "genuine-random")
        )
        print(f"  {split:5s} writers {n_w:4d}: {parts}")
    return 0


def cmd_train(args) -> int:
    from .train import train

    result = train(options.from_arguments(args))
    print(f"model: {result.model_dir}")
    return 0


def cmd_evaluate(args) -> int:
    from .report import run_evaluation

    report = run_evaluation(
        data=args.data,
        layout=args.layout,
        model_dir=args.model,
        references=args.references,
        json_path=args.json,
        plot_path=args.plot,
        split_file=args.split_file,
        split=args.split,
        swap_background=args.swap_background,
        capture=args.capture,
    )
    from .evaluation_summary import print_summary

    print_summary(report)
    return 0


def cmd_publish(args) -> int:
    from .publish import PublishOptions, publish

    checks = []
    for check in args.capture_check or ():
        data, _, capture = check.rpartition(":")
        if capture not in ("bilevel", "half-resolution") or not data:
            raise ValueError(f"--capture-check wants DATASET_DIR:bilevel or DATASET_DIR:half-resolution, got {check!r}")
        checks.append((data, capture))
    models, data = args.leave_one_out_model or [], args.leave_one_out_data or []
    if len(models) != len(data):
        raise ValueError("--leave-one-out-model and --leave-one-out-data go together, one of each per model")
    leave_one_out = list(zip(models, data, strict=True))
    options = PublishOptions(
        datasets=tuple(args.data),
        split_file=args.split_file,
        split=args.split,
        swap_check=args.swap_check,
        capture_checks=tuple(checks),
        leave_one_out=tuple(leave_one_out),
        signer_classifier=args.signer_classifier,
        embedded=args.embedded,
        onnx=args.onnx,
        cheques=args.cheques,
    )
    publish(args.model, args.out, options)
    print(f"published to {args.out}")
    return 0


def cmd_cheque_points(args) -> int:
    from .cheque_scores import ChequeProtocol
    from .publish import refit_on_cheques

    protocol = ChequeProtocol(queries={"val": args.val_queries, "test": args.test_queries})
    refit_on_cheques(args.model_dir, args.data, args.split_file, protocol)
    print(f"scores and thresholds of {args.model_dir} updated")
    return 0


def cmd_export_onnx(args) -> int:
    from .card import ModelCard
    from .onnx_export import export_onnx

    datasets = args.data
    if datasets is None:  # the datasets the model was trained on, where they are imported
        organized = Path(os.environ.get("SIGVERIFY_ORGANIZED_DATA") or REPO_ROOT / "organized_data")
        trained = [organized / Path(d).name for d in ModelCard.read(args.model_dir).data.datasets]
        datasets = [d for d in trained if (d / "manifest.csv").is_file()]
        missing = sorted(d.name for d in trained if d not in datasets)
        if missing:
            print(f"not imported in {organized}, not checked: {', '.join(missing)}")
    if args.int8 and not datasets:
        raise ValueError("--int8 needs imported datasets (--data): calibration and the check use real signatures")
    card = export_onnx(
        args.model_dir,
        datasets=datasets if (datasets and not args.no_check) else (),
        split_file=args.split_file,
        split=args.split,
        int8=args.int8,
        calibration=args.calibration,
        calibration_per_dataset=args.calibration_images,
        exclude=args.keep_fp32,
        reduce_range=args.reduce_range,
        op_types=["Conv"] if args.conv_only else None,
        references=tuple(args.references),
    )
    if (Path(args.model_dir) / "MODEL_CARD.md").exists():  # the card for people shows the files too
        from .publish import write_markdown

        write_markdown(card, args.model_dir)
    for kind in ("fp32", "int8"):
        entry = getattr(card.onnx, kind)
        if entry is not None:
            print(f"{kind}: {Path(args.model_dir) / entry.file} sha256 {entry.sha256[:12]} usable {entry.usable}")
    return 0


def cmd_train_signature_finder(args) -> int:
    from .finder_training import train, train_boxes

    datasets = args.datasets if args.datasets and Path(args.datasets).is_dir() else None
    if not args.boxes_only:
        card = train(
            args.out,
            datasets_root=datasets,
            splits_path=args.split_file,
            cheques=args.cheques,
            eval_cheques=args.eval_cheques,
            seed=args.seed,
            trees=args.trees,
            depth=args.depth,
        )
        print(f"signature finder -> {args.out} (sha256 {card['sha256'][:12]})")
    boxes = train_boxes(
        args.out,
        datasets_root=datasets,
        splits_path=args.split_file,
        cheques=args.box_cheques,
        seed=args.seed,
    )
    print(f"signature boxes -> {args.out} (sha256 {boxes['sha256'][:12]})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sigverify", description="Offline signature verification toolkit")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("import-data", help="import a dataset tree into organized_data/<name>/ with a manifest")
    p.add_argument("--data", required=True, help="root of the dataset tree")
    p.add_argument("--layout", required=True, choices=LAYOUTS)
    p.add_argument("--name", help="dataset name (default: the folder name, lower case)")
    p.add_argument("--out", default=str(REPO_ROOT / "organized_data"), help="where organised datasets live")
    size = options.TrainConfig.model_fields["input_size"].default  # the cache is built at training's input size
    p.add_argument("--size", type=_size, default=size, help=f"cache input size HxW (default {size[0]}x{size[1]})")
    p.add_argument("--no-cache", action="store_true", help="skip building the preprocessed cache")
    p.set_defaults(func=cmd_import_data)

    p = sub.add_parser("make-pairs", help="writer-disjoint splits and balanced pair lists (CSV) in image_pairs/")
    p.add_argument("--data", nargs="+", required=True, help="organised dataset dirs")
    p.add_argument("--out", default=str(REPO_ROOT / "image_pairs"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-fraction", type=float, default=0.125)
    p.add_argument("--test-fraction", type=float, default=0.25)
    p.add_argument("--per-writer", type=int, default=None, help="cap positive pairs per writer")
    p.add_argument("--reassign", action="store_true", help="ignore an existing splits.csv")
    p.set_defaults(func=cmd_make_pairs)

    p = sub.add_parser(
        "train",
        help="train the Siamese ResNet18 and write a calibrated model dir",
        description="Every option of sigverify.options.TrainConfig, with its default and limits.",
    )
    options.add_arguments(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="writer-independent evaluation of a model on a dataset")
    p.add_argument("--data", required=True, help="dataset dir (raw tree in --layout, or organised)")
    p.add_argument("--layout", default="folders", choices=LAYOUTS)
    p.add_argument("--model", default=str(REPO_ROOT / "trained_model_parameters"), help="model dir")
    p.add_argument(
        "--references",
        "-R",
        type=int,
        nargs="+",
        default=[5],
        help="references per writer; several (-R 1 2 3 5 10) report each R's figures and decisions in one run",
    )
    p.add_argument("--json", help="write the report as JSON here")
    p.add_argument("--plot", help="write ROC/DET/histograms/confusion matrix PNG here")
    p.add_argument("--split-file", help="only writers of --split in this splits CSV")
    p.add_argument("--split", default="test")
    p.add_argument(
        "--swap-background",
        action="store_true",
        help="robustness check: paint each image's paper with the other class's paper colour first",
    )
    p.add_argument(
        "--capture",
        choices=("bilevel", "half-resolution"),
        help="simulate another capture first: bilevel (1-bit, as cheque archives store) or half the dpi",
    )
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("publish", help="evaluate a trained model on held-out writers and ship it with its card")
    p.add_argument("--model", required=True, help="model dir written by `sigverify train` (<run>/model)")
    p.add_argument("--data", nargs="+", required=True, help="organised dataset dirs to evaluate on")
    p.add_argument("--split-file", required=True, help="splits CSV the model was trained with")
    p.add_argument("--split", default="test")
    p.add_argument("--swap-check", help="dataset dir for the background-swap robustness check (CEDAR)")
    p.add_argument(
        "--capture-check",
        action="append",
        metavar="DATASET_DIR:CAPTURE",
        help="also measure a dataset's test writers under a simulated capture (bilevel, half-resolution); repeatable",
    )
    p.add_argument(
        "--leave-one-out-model", action="append", help="model dir of a model trained without one dataset (repeatable)"
    )
    p.add_argument(
        "--leave-one-out-data",
        action="append",
        help="the dataset dir the matching --leave-one-out-model left out (measured on its test writers)",
    )
    p.add_argument(
        "--signer-classifier",
        action="store_true",
        help="ship training writers' embeddings (background.safetensors) and a calibration fused with a "
        "classifier per signer",
    )
    p.add_argument(
        "--embedded",
        help="folder of this model's embeddings (<dataset>_<split>.npz, background.npz; named by the weights' "
        "sha256[:12]) to reuse instead of embedding again",
    )
    p.add_argument(
        "--onnx",
        action="store_true",
        help="also export model.onnx and an int8 file for ONNX Runtime, checked against PyTorch (export-onnx)",
    )
    p.add_argument(
        "--cheques",
        action="store_true",
        help="also score signatures cut from generated whole cheques and fit the cheque pair (cheque-points)",
    )
    p.add_argument("--out", default=str(REPO_ROOT / "trained_model_parameters"))
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser(
        "cheque-points",
        help="score a published model on signatures cut from generated whole cheques and fit the operating "
        "points a crop found on a cheque is decided with (its card's thresholds.cheque); no retraining",
    )
    p.add_argument("--model-dir", default=str(REPO_ROOT / "trained_model_parameters"))
    p.add_argument(
        "--data",
        nargs="+",
        default=[str(REPO_ROOT / "organized_data" / name) for name in ("cedar", "gpds", "bengali", "hindi")],
        help="organised dataset dirs (their validation writers fit the pair, test writers show it)",
    )
    p.add_argument("--split-file", default=str(REPO_ROOT / "image_pairs" / "splits.csv"))
    p.add_argument("--val-queries", type=int, default=12, help="genuine (and as many forged) queries per writer")
    p.add_argument("--test-queries", type=int, default=4)
    p.set_defaults(func=cmd_cheque_points)

    from .onnx_export import (
        CALIBRATION_METHODS,
        CALIBRATION_PER_DATASET,
        CHECK_REFERENCES,
        DEFAULT_CALIBRATION,
        DEFAULT_EXCLUDE,
    )

    p = sub.add_parser(
        "export-onnx",
        help="export a model dir's weights to ONNX (fp32, optionally int8) for ONNX Runtime serving, checked "
        "against PyTorch, recorded in its card",
    )
    p.add_argument("--model-dir", default=str(REPO_ROOT / "trained_model_parameters"), help="model dir to export")
    p.add_argument(
        "--data",
        nargs="+",
        help="organised dataset dirs to check on (default: the card's datasets found in SIGVERIFY_ORGANIZED_DATA)",
    )
    p.add_argument("--split-file", default=str(REPO_ROOT / "image_pairs" / "splits.csv"))
    p.add_argument("--split", default="test", help="writers the check runs on (calibration uses the train split)")
    p.add_argument("--no-check", action="store_true", help="fp32 only, checked on generated signatures")
    p.add_argument("--int8", action="store_true", help="also a statically quantised int8 file (usable if it passes)")
    p.add_argument("--calibration", choices=CALIBRATION_METHODS, default=DEFAULT_CALIBRATION)
    p.add_argument(
        "--calibration-images",
        type=int,
        default=CALIBRATION_PER_DATASET,
        help=f"training writers' signatures per dataset (default {CALIBRATION_PER_DATASET})",
    )
    p.add_argument(
        "--keep-fp32",
        nargs="*",
        default=list(DEFAULT_EXCLUDE),
        help="nodes left in fp32 in the int8 file: first-conv, head, node-name patterns or names "
        f"(default: {' '.join(DEFAULT_EXCLUDE)})",
    )
    p.add_argument(
        "--reduce-range",
        action="store_true",
        help="7-bit weights (ONNX Runtime advises it where int8 products can saturate, CPUs without VNNI); "
        "default 8-bit, which passed the check on an AVX2-only EPYC",
    )
    p.add_argument(
        "--conv-only", action="store_true", help="quantise only the convolutions (residual additions stay fp32)"
    )
    p.add_argument("--references", "-R", type=int, nargs="+", default=list(CHECK_REFERENCES))
    p.set_defaults(func=cmd_export_onnx)

    p = sub.add_parser(
        "train-signature-finder",
        help="train the whole-cheque signature finder on generated cheques (training layouts and writers)",
    )
    p.add_argument("--datasets", default=str(REPO_ROOT.parent / "shared" / "datasets"), help="raw datasets root")
    p.add_argument("--split-file", default=str(REPO_ROOT / "image_pairs" / "splits.csv"))
    p.add_argument("--cheques", type=int, default=400, help="generated training cheques")
    p.add_argument("--eval-cheques", type=int, default=40, help="held-out-layout cheques per capture for the card")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--trees", type=int, default=150)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--box-cheques", type=int, default=600, help="generated training cheques of the second stage")
    p.add_argument("--boxes-only", action="store_true", help="keep the component trees; fit the second stage only")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent), help="where the .npz and .json go")
    p.set_defaults(func=cmd_train_signature_finder)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (DatasetError, ModelLoadError, ImageRejected, ValueError) as exc:
        print(f"sigverify {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
