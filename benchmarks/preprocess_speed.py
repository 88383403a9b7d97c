#!/usr/bin/env python
"""Preprocessing and whole-cheque extraction speed, per image, on one core.

    PYTHONPATH=backend .venv/bin/python benchmarks/preprocess_speed.py
    PYTHONPATH=backend .venv/bin/python benchmarks/preprocess_speed.py --baseline <git revision>

Times ``sigverify.preprocess.preprocess_with_quality`` (decode included) on real scans read in
place from the shared datasets (CEDAR PNG, GPDS JPEG, BHSig260 bilevel TIFF; drawn signatures
where they are missing) at the shipped model's input size, and ``sigverify.cheque`` on drawn
whole cheques (bilevel G4 TIFF at 200 dpi, and 600 dpi grey). With ``--baseline REV`` the same is
timed with ``preprocess.py`` and ``cheque.py`` as they were at REV, and every output is compared:
the arrays must be equal bit for bit and the boxes identical. Best of --repeats passes.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib


def load_revision(rev: str, module: str):
    """``sigverify.<module>`` as it was at ``rev`` (imported under another name)."""
    source = subprocess.run(
        ["git", "show", f"{rev}:backend/sigverify/{module}.py"], cwd=benchlib.REPO, check=True, capture_output=True
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix="baseline-"))
    path = folder / f"{module}_baseline.py"
    path.write_bytes(source.replace(b"from .preprocess import", b"from sigverify.preprocess_baseline import"))
    name = f"sigverify.{module}_baseline"
    spec = importlib.util.spec_from_file_location(name, path)
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded
    spec.loader.exec_module(loaded)
    return loaded


def images(count: int) -> list[tuple[str, bytes]]:
    root = benchlib.shared_datasets_dir()
    found = (
        sorted((root / "CEDAR" / "full_org").glob("*.png"))[: count // 3]
        + sorted((root / "GPDS").glob("*/*.jpg"))[: count // 3]
        + sorted((root / "BHSig260" / "Hindi").glob("*/*.tif"))[: count // 3]
    )
    if found:
        return [(p.name, p.read_bytes()) for p in found]
    return [(f"drawn-{i}.png", benchlib.drawn_signature(i, writer=1 + i % 5)) for i in range(count)]


def cheques() -> list[tuple[str, object]]:
    from PIL import Image

    from testsupport.synthetic_data import draw_cheque

    out = []
    for writer in range(1, 7):
        cheque, _ = draw_cheque(writer, sample=writer)
        out.append((f"g4-200dpi-{writer}", cheque.convert("1", dither=Image.Dither.NONE)))
    out.append(("grey-600dpi", draw_cheque(2, size=(3600, 1650))[0]))
    return out


def best_ms(fn, items, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for item in items:
            fn(item)
        times.append((time.perf_counter() - started) / len(items))
    return 1000 * min(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", default="128x256")
    parser.add_argument("--baseline", help="a git revision whose preprocess.py/cheque.py to compare with")
    args = parser.parse_args(argv)
    size = tuple(int(v) for v in args.size.split("x"))

    from sigverify import cheque, preprocess

    print(benchlib.machine_line(), flush=True)
    sample = images(args.images)
    scans = cheques()
    modules = {"now": (preprocess, cheque)}
    if args.baseline:
        modules[args.baseline] = (load_revision(args.baseline, "preprocess"), load_revision(args.baseline, "cheque"))
    results = {}
    for label, (pp, ch) in modules.items():
        results[label] = {
            "signature_ms": best_ms(
                lambda item, pp=pp: pp.preprocess_with_quality(item[1], size=size), sample, args.repeats
            ),
            "cheque_ms": best_ms(lambda item, ch=ch: ch.find_signature_region(item[1]), scans, args.repeats),
        }
        print(
            f"{label}: preprocess {results[label]['signature_ms']:.2f} ms per signature ({len(sample)} scans), "
            f"signature search {results[label]['cheque_ms']:.2f} ms per whole cheque ({len(scans)} cheques)",
            flush=True,
        )
    if args.baseline:
        pp, ch = modules[args.baseline]
        import numpy as np

        same = all(
            np.array_equal(
                preprocess.preprocess_with_quality(d, size=size)[0], pp.preprocess_with_quality(d, size=size)[0]
            )
            for _, d in sample
        )
        boxes = all(cheque.find_signature_region(c).box == ch.find_signature_region(c).box for _, c in scans)
        print(f"outputs equal to {args.baseline}: arrays {same}, cheque boxes {boxes}")
        for key in ("signature_ms", "cheque_ms"):
            print(f"  {key}: x{results[args.baseline][key] / results['now'][key]:.2f} faster")
    print(benchlib.machine_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
