#!/usr/bin/env python
"""The same signatures as clean crops and as cheque crops captured three ways, decided with and
without the crop cleaning and the image-quality gate.

    nice -n 10 .venv/bin/python benchmarks/capture_quality.py --datasets cedar bengali

For every TEST writer (image_pairs/splits.csv) of each dataset: five genuine signatures, as they
are (a clean card), are the references. Each questioned signature (the next genuine ones and
skilled forgeries) is pasted onto a cheque's signature area: grey paper, the printed signature
line through the strokes' lower part, a printed legend under it, reduced to 200 dpi. That crop is
then captured as
  grey         8-bit greyscale
  thresholded  bilevel, a fixed threshold (the grey paper turns white)
  dithered     bilevel, Floyd-Steinberg error diffusion (the grey paper turns to a dot pattern;
               what PIL's ``convert("1")`` and many archive scanners do)
and, for comparison, the questioned signature's own clean image. Each goes through the shipped
model twice:
  before  preprocessing without descreening or cleaning, the decision from the score alone
  after   descreening, printed rules and legend removed, and the quality gate (a failed check
          makes the decision ``refer``, reason ``image_quality``)
It prints, per dataset and capture: genuine rejected (decided forgery), skilled forgeries
accepted (decided genuine), the share referred to a human and the share referred for image
quality. The goal: no confident forgery on an unusable image.

Datasets are read from organized_data/<name> when imported, otherwise from the raw trees under
../shared/datasets. Nothing is written; figures are printed.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "backend"))

from sigverify.datasets import load_dataset  # noqa: E402
from sigverify.inference import Verifier, limit_threads  # noqa: E402
from sigverify.preprocess import load_image, preprocess_image, to_greyscale  # noqa: E402
from sigverify.scoring import decide  # noqa: E402

RAW = {
    "cedar": ("CEDAR", "cedar", 200),
    "gpds": ("GPDS", "gpds", 200),  # resized by its distributor: dpi unknown, taken as is
    "bengali": ("BHSig260/Bengali", "bhsig260", 300),
    "hindi": ("BHSig260/Hindi", "bhsig260", 300),
}
CAPTURES = ("clean", "grey", "thresholded", "dithered")
CHEQUE_DPI = 200


def samples_of(name: str, shared: Path):
    organised = REPO / "organized_data" / name
    if (organised / "manifest.csv").exists():
        return load_dataset(organised)[1]
    folder, layout, _ = RAW[name]
    return load_dataset(shared / folder, layout)[1]


def on_cheque(signature: Image.Image, dpi: int, rng: np.random.Generator) -> Image.Image:
    """The signature written on a cheque's signature area: grey paper, the printed line through
    its lower part, a printed legend under the line; at 200 dpi."""
    grey = to_greyscale(signature)
    paper = float(np.median(grey))
    ratio = np.clip(grey / max(paper, 1.0), 0.0, 1.0)  # the ink as a transmittance, paper = 1
    strokes = Image.fromarray((ratio * 255).astype(np.uint8))
    if dpi != CHEQUE_DPI:
        strokes = strokes.resize(
            (round(strokes.width * CHEQUE_DPI / dpi), round(strokes.height * CHEQUE_DPI / dpi)),
            Image.Resampling.LANCZOS,
        )
    ratio = np.asarray(strokes, dtype=np.float32) / 255.0
    ink_rows = np.flatnonzero((ratio < 0.6).any(axis=1))
    top, bottom = (int(ink_rows[0]), int(ink_rows[-1])) if ink_rows.size else (0, ratio.shape[0] - 1)
    height, width = ratio.shape
    legend_space = 34
    canvas = np.full((height + legend_space, width + 40), float(rng.uniform(185, 215)), dtype=np.float32)
    canvas += rng.normal(0, 3, canvas.shape)
    printed = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(printed)
    line_y = top + int(0.8 * (bottom - top))  # through the strokes' lower part
    draw.line([(0, line_y), (printed.width, line_y)], fill=60, width=2)
    font = ImageFont.load_default(size=13)
    draw.text((printed.width // 2 - 70, height + 10), "AUTHORISED SIGNATORY", fill=50, font=font)
    out = np.asarray(printed, dtype=np.float32).copy()
    out[0:height, 20 : 20 + width] *= ratio
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def capture(crop: Image.Image, kind: str) -> Image.Image:
    if kind == "thresholded":
        return crop.convert("1", dither=Image.Dither.NONE)
    if kind == "dithered":
        return crop.convert("1")  # Floyd-Steinberg
    return crop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(REPO / "trained_model_parameters"))
    parser.add_argument("--datasets", nargs="+", default=["cedar", "bengali"], choices=sorted(RAW))
    parser.add_argument("--shared", default=str(REPO.parent / "shared" / "datasets"))
    parser.add_argument("--references", type=int, default=5)
    parser.add_argument("--per-writer", type=int, default=4, help="genuine and as many skilled forgeries per writer")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    limit_threads(args.threads)
    verifier = Verifier.from_dir(args.model)
    size = verifier.input_size
    splits = {row["writer"]: row["split"] for row in csv.DictReader(open(REPO / "image_pairs" / "splits.csv"))}
    print(
        f"model {verifier.card.get('name')} {verifier.card.get('version')}, thresholds accept "
        f"{verifier.accept:.3f} reject {verifier.reject:.3f}, {args.references} references, "
        f"{args.per_writer} genuine + {args.per_writer} skilled per writer"
    )
    for name in args.datasets:
        started = time.perf_counter()
        rng = np.random.default_rng(19)
        dpi = RAW[name][2]
        by_writer = defaultdict(lambda: {"genuine": [], "forged": []})
        for s in samples_of(name, Path(args.shared)):
            if splits.get(f"{name}/{s.writer}") == "test":
                by_writer[s.writer]["genuine" if s.is_genuine else "forged"].append(s)
        # counts[(capture, mode)][label][outcome]
        counts = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
        for _writer, group in sorted(by_writer.items()):
            genuine = sorted(group["genuine"], key=lambda s: s.sample)
            forged = sorted(group["forged"], key=lambda s: s.sample)
            references = genuine[: args.references]
            questioned = [(s, "genuine") for s in genuine[args.references :][: args.per_writer]]
            questioned += [(s, "forged") for s in forged[: args.per_writer]]
            if not references or not questioned:
                continue
            for mode in ("before", "after"):
                clean = mode == "after"
                arrays = [preprocess_image(load_image(s.path), size, clean=clean)[0] for s in references]
                refs = verifier.embed_arrays(arrays)
                for sample, label in questioned:
                    original = load_image(sample.path)
                    crop = on_cheque(original, dpi, np.random.default_rng(rng.integers(1 << 31)))
                    for kind in CAPTURES:
                        image = original if kind == "clean" else capture(crop, kind)
                        try:
                            array, quality = preprocess_image(image, size, clean=clean)
                        except ValueError:
                            counts[kind, mode][label]["refused"] += 1
                            continue
                        score = verifier.score(verifier.embed_arrays([array])[0], refs).score
                        decision = decide(score, verifier.accept, verifier.reject)
                        if clean and quality.checks_failed:
                            decision = "quality"
                            for check in quality.checks_failed:
                                counts[kind, mode][label]["check:" + check] += 1
                        counts[kind, mode][label][decision] += 1
        print(f"\n{name}: {len(by_writer)} test writers ({time.perf_counter() - started:.0f} s, shared CPU)")
        print(
            f"  {'capture':12s} {'mode':6s} {'gen.rejected':>12s} {'forg.accepted':>13s} {'referred':>9s} "
            f"{'for quality':>11s} {'refused':>8s}  checks failed"
        )
        for kind in CAPTURES:
            for mode in ("before", "after"):
                g, f = counts[kind, mode]["genuine"], counts[kind, mode]["forged"]
                n_g = sum(v for k, v in g.items() if not k.startswith("check:"))
                n_f = sum(v for k, v in f.items() if not k.startswith("check:"))
                total = max(1, n_g + n_f)
                checks = defaultdict(int)
                for c in (g, f):
                    for k, v in c.items():
                        if k.startswith("check:"):
                            checks[k[6:]] += v
                print(
                    f"  {kind:12s} {mode:6s} {100 * g['forgery'] / max(1, n_g):11.1f}% "
                    f"{100 * f['genuine'] / max(1, n_f):12.1f}% "
                    f"{100 * (g['refer'] + f['refer'] + g['quality'] + f['quality']) / total:8.1f}% "
                    f"{100 * (g['quality'] + f['quality']) / total:10.1f}% "
                    f"{g['refused'] + f['refused']:8d}  {dict(checks) or ''}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
