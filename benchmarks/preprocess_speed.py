#!/usr/bin/env python
"""Preprocessing and whole-cheque extraction speed, CPU ms per image on one core.

    PYTHONPATH=backend .venv/bin/python benchmarks/preprocess_speed.py
    PYTHONPATH=backend .venv/bin/python benchmarks/preprocess_speed.py --baseline <git revision>

Times ``sigverify.preprocess.preprocess_with_quality`` (decode included) at the shipped model's
input size on real signatures, per dataset: ``--per-set`` images spread evenly over each imported
set's manifest (``organized_data/<cedar|gpds|bengali|hindi>``: CEDAR grey 200 dpi PNG, GPDS
256x256 JPEG, BHSig260 Bengali and Hindi bilevel 300 dpi TIFF; drawn signatures where none is
imported), and ``sigverify.cheque`` on drawn whole cheques (bilevel G4 TIFF at 200 dpi, and 600 dpi
grey). The process is pinned to one core with OpenCV on one thread, and the figure is its CPU
time (best of ``--repeats`` passes), so other work on a shared machine disturbs it little.

With ``--baseline REV`` the package ``sigverify`` as it was at REV (every module: preprocessing,
cleaning, quality checks) is timed the same way, and every output is compared: the arrays must be
equal bit for bit, the quality records (every field, exact floats) and the cheque boxes identical.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import astuple
from pathlib import Path

import benchlib

SETS = ("cedar", "gpds", "bengali", "hindi")


def load_revision(rev: str):
    """(preprocess, cheque) of ``sigverify`` as it was at ``rev``, imported as another package."""
    archive = subprocess.run(
        ["git", "archive", rev, "backend/sigverify"], cwd=benchlib.REPO, check=True, capture_output=True
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix="baseline-"))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    package = f"sigverify_at_{rev.replace('-', '_').replace('~', '_').replace('^', '_')}"
    (folder / "backend" / "sigverify").rename(folder / package)
    sys.path.insert(0, str(folder))
    return importlib.import_module(f"{package}.preprocess"), importlib.import_module(f"{package}.cheque")


def organized_data() -> Path:
    return Path(os.environ.get("SIGVERIFY_ORGANIZED_DATA", benchlib.REPO / "organized_data"))


def images(per_set: int) -> dict[str, list[bytes]]:
    """Each imported set's images, spread evenly over its manifest; drawn ones without data."""
    found = {}
    for name in SETS:
        manifest = organized_data() / name / "manifest.csv"
        if not manifest.exists():
            continue
        with manifest.open(newline="") as fh:
            paths = sorted(row["path"] for row in csv.DictReader(fh))
        step = max(1, len(paths) // per_set)
        found[name] = [(manifest.parent / path).read_bytes() for path in paths[::step][:per_set]]
    if not found:
        found["drawn"] = [benchlib.drawn_signature(i, writer=1 + i % 5) for i in range(per_set)]
    return found


def cheques() -> list[tuple[str, object]]:
    from PIL import Image

    from testsupport.synthetic_data import draw_cheque

    out = []
    for writer in range(1, 7):
        cheque, _ = draw_cheque(writer, sample=writer)
        out.append((f"g4-200dpi-{writer}", cheque.convert("1", dither=Image.Dither.NONE)))
    out.append(("grey-600dpi", draw_cheque(2, size=(3600, 1650))[0]))
    return out


def best_cpu_ms(fn, items, repeats: int) -> float:
    """CPU ms per item of the least disturbed of ``repeats`` passes (after one warm-up call)."""
    fn(items[0])
    times = []
    for _ in range(repeats):
        started = time.process_time()
        for item in items:
            fn(item)
        times.append((time.process_time() - started) / len(items))
    return 1000 * min(times)


def outcome(pp, data: bytes, size):
    """The array and every quality field, or the rejection."""
    try:
        array, quality = pp.preprocess_with_quality(data, size=size)
    except Exception as exc:  # each version's own ImageRejected classes
        return type(exc).__name__, str(exc)
    return array.tobytes(), array.shape, astuple(quality)


def one_core() -> str:
    """Pin this process to one core and OpenCV to one thread: a worker's share of the machine."""
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    import cv2

    cv2.setNumThreads(1)
    return f"pinned to core {core}, OpenCV threads {cv2.getNumThreads()}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-set", type=int, default=60, help="images per dataset")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", default="128x256")
    parser.add_argument("--baseline", help="a git revision whose sigverify to time and compare with")
    args = parser.parse_args(argv)
    size = tuple(int(v) for v in args.size.split("x"))

    from sigverify import cheque, preprocess

    print(benchlib.machine_line(), f"({one_core()})", flush=True)
    sample = images(args.per_set)
    scans = cheques()
    modules = {"now": (preprocess, cheque)}
    if args.baseline:
        modules[args.baseline] = load_revision(args.baseline)
    results = {}
    for label, (pp, ch) in modules.items():
        figures = {
            name: best_cpu_ms(lambda data, pp=pp: pp.preprocess_with_quality(data, size=size), items, args.repeats)
            for name, items in sample.items()
        }
        figures["all"] = sum(figures[name] * len(sample[name]) for name in sample) / sum(map(len, sample.values()))
        figures["cheque"] = best_cpu_ms(lambda item, ch=ch: ch.find_signature_region(item[1]), scans, args.repeats)
        results[label] = figures
        per_set = ", ".join(f"{name} {figures[name]:.2f}" for name in sample)
        print(
            f"{label}: preprocess CPU ms per signature: {per_set}; all {figures['all']:.2f} "
            f"({args.per_set} per set); signature search {figures['cheque']:.2f} ms per whole cheque "
            f"({len(scans)} cheques)",
            flush=True,
        )
    if args.baseline:
        pp, ch = modules[args.baseline]
        for name, items in sample.items():
            same = sum(outcome(preprocess, data, size) == outcome(pp, data, size) for data in items)
            print(f"{name}: {same} of {len(items)} outputs equal to {args.baseline} (array bit for bit, quality exact)")
        boxes = all(cheque.find_signature_region(c).box == ch.find_signature_region(c).box for _, c in scans)
        print(f"cheque boxes equal to {args.baseline}: {boxes}")
        for key in (*sample, "all", "cheque"):
            print(f"  {key}: x{results[args.baseline][key] / results['now'][key]:.2f} faster")
    print(benchlib.machine_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
