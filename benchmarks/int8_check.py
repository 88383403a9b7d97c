#!/usr/bin/env python
"""int8 against PyTorch fp32, per dataset: skilled EER change and decisions changed at the shipped points.

    nice -n 10 .venv/bin/python benchmarks/int8_check.py                     # the shipped model, the default
    nice -n 10 .venv/bin/python benchmarks/int8_check.py --variant minmax --variant "minmax:keep=first-conv+head"

The check ``sigverify export-onnx --int8`` runs (``sigverify.onnx_export.compare``), for several
quantisation variants on one PyTorch pass: each variant quantises ``model.onnx`` of a temporary
export (calibrated on training writers of the splits file) and is measured on the held-out
``--split`` writers of each imported dataset. Nothing is written into the model directory.

A variant is ``METHOD[:reduce-range][:conv-only][:p=PERCENT][:keep=NODE+NODE]``: METHOD minmax, entropy or percentile
(``p``: the share of each activation's values its range keeps, percentile only; default 99.999);
``reduce-range``: 7-bit weights (default 8-bit); ``conv-only``: quantise only the
convolutions (residual additions, pooling and head stay fp32); ``keep``: nodes left in fp32
(default: ``onnx_export.DEFAULT_EXCLUDE``; ``keep=`` for none; patterns allowed). The goal (issue 22): |EER change| <= 0.3 points
and <= 0.5% of decisions changed, on every dataset.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib  # noqa: F401  (puts backend/ on sys.path)

REPO = Path(__file__).resolve().parents[1]


def parse_variant(text: str) -> dict:
    from sigverify.onnx_export import CALIBRATION_METHODS, DEFAULT_EXCLUDE, DEFAULT_PERCENTILE

    method, *flags = text.split(":")
    if method not in CALIBRATION_METHODS:
        raise SystemExit(f"variant {text!r}: method must be one of {CALIBRATION_METHODS}")
    variant = {
        "name": text,
        "method": method,
        "reduce_range": False,
        "exclude": list(DEFAULT_EXCLUDE),
        "op_types": None,
        "percentile": DEFAULT_PERCENTILE,
    }
    for flag in flags:
        if flag == "reduce-range":
            variant["reduce_range"] = True
        elif flag == "conv-only":
            variant["op_types"] = ["Conv"]
        elif flag.startswith("p="):
            variant["percentile"] = float(flag[2:])
        elif flag.startswith("keep="):
            variant["exclude"] = [n for n in flag[5:].split("+") if n]
        else:
            raise SystemExit(f"variant {text!r}: unknown flag {flag!r}")
    return variant


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        return next((line.split(":", 1)[1].strip() for line in out.splitlines() if "Model name" in line), "")
    except OSError:
        return platform.processor()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", default=str(REPO / "trained_model_parameters"))
    organized = Path(os.environ.get("SIGVERIFY_ORGANIZED_DATA") or REPO / "organized_data")
    parser.add_argument("--data", nargs="+", help=f"dataset dirs (default: cedar gpds bengali hindi in {organized})")
    parser.add_argument("--split-file", default=str(REPO / "image_pairs" / "splits.csv"))
    parser.add_argument("--split", default="test")
    parser.add_argument("--calibration-images", type=int, default=256, help="per dataset, training writers")
    parser.add_argument("--variant", action="append", help="see the module docstring (repeatable; default minmax)")
    parser.add_argument("--references", "-R", type=int, nargs="+", default=[5])
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args(argv)

    from sigverify.inference import Verifier, limit_threads
    from sigverify.onnx_export import (
        ONNX_FILE,
        calibration_arrays,
        check_data,
        compare,
        export_fp32,
        quantize_int8,
    )
    from sigverify.runtime import OnnxRuntime
    from sigverify.weights import load_model, sha256_file
    from sigverify.writer_dependent import load_background

    limit_threads(int(os.environ.get("SIGVERIFY_TORCH_THREADS", "2")))
    datasets = (
        [Path(d) for d in args.data] if args.data else [organized / n for n in ("cedar", "gpds", "bengali", "hindi")]
    )
    datasets = [d for d in datasets if (d / "manifest.csv").is_file()]
    if not datasets:
        raise SystemExit(f"no imported dataset found (looked in {organized})")
    variants = [parse_variant(v) for v in (args.variant or ["minmax"])]
    model, card = load_model(args.model_dir)
    verifier = Verifier(model, card, precision="fp32")
    background = load_background(args.model_dir, card)
    started = time.perf_counter()
    data = check_data(verifier, datasets, args.split_file, args.split)
    print(f"PyTorch fp32 pass: {time.perf_counter() - started:.0f} s")
    calibration, writers = calibration_arrays(datasets, args.split_file, card.size, per_dataset=args.calibration_images)
    results = {"cpu": cpu_model(), "model_sha256": card.sha256, "datasets": [d.name for d in datasets], "variants": {}}
    with tempfile.TemporaryDirectory(prefix="int8-check-") as tmp:
        fp32_path = Path(tmp) / ONNX_FILE
        export_fp32(model, fp32_path, card.size)
        fp32 = OnnxRuntime(fp32_path, sha256_file(fp32_path), card.embedding_dim)
        check = compare(
            {n: fp32.embed_arrays(a) for n, a in data.arrays.items()}, data, card, background, args.references
        )
        results["variants"]["onnx-fp32"] = json.loads(check.model_dump_json())
        print(f"onnx-fp32: max |diff| {check.max_abs_diff:.2e}, passed {check.passed}")
        for variant in variants:
            out = Path(tmp) / f"int8-{len(results['variants'])}.onnx"
            started = time.perf_counter()
            quantization = quantize_int8(
                fp32_path,
                out,
                calibration,
                method=variant["method"],
                exclude=variant["exclude"],
                reduce_range=variant["reduce_range"],
                op_types=variant["op_types"],
                percentile=variant["percentile"],
            )
            seconds = time.perf_counter() - started
            int8 = OnnxRuntime(out, sha256_file(out), card.embedding_dim, kind="int8")
            check = compare(
                {n: int8.embed_arrays(a) for n, a in data.arrays.items()}, data, card, background, args.references
            )
            results["variants"][variant["name"]] = {
                **json.loads(check.model_dump_json()),
                "quantization": quantization.model_dump(),
                "calibration_writers": len(writers),
                "quantise_seconds": round(seconds, 1),
            }
            print(
                f"\nint8 {variant['name']}: {len(calibration)} calibration images of {len(writers)} training writers, "
                f"kept fp32: {', '.join(quantization.nodes_excluded) or 'none'}, reduce_range {variant['reduce_range']} "
                f"({seconds:.0f} s); min cosine to PyTorch {check.min_cosine:.4f}"
            )
            print(
                f"{'dataset':10s} {'R':>2s} {'EER torch':>9s} {'EER int8':>9s} {'change':>7s} {'decisions changed':>18s}"
            )
            for name, c in check.datasets.items():
                print(
                    f"{name:10s} {c.references:2d} {100 * c.skilled_eer_torch:8.2f}% {100 * c.skilled_eer_onnx:8.2f}% "
                    f"{c.eer_change_points:+7.2f} {100 * c.decisions_changed:10.2f}% of {c.queries}"
                )
            print(
                f"goal (|change| <= 0.3 points, <= 0.5% changed, every dataset): {'MET' if check.passed else 'NOT MET'}"
            )
    print(f"\nCPU: {results['cpu']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
