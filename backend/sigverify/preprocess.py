"""Signature image preprocessing: any scan or photo in, a background-free ink map out.

Pipeline: decode (EXIF orientation honoured) -> greyscale -> descreen a dithered scan
(``quality``) -> median denoise -> Otsu threshold -> printed rules, box edges and legend out
(``cleaning``) -> background set to zero (paper colour is thrown away) -> crop to ink with a
margin -> pad to the model's aspect ratio, centred -> resize -> uint8 array with ink bright on
zero. ``to_float`` normalises to [0, 1]. The quality checks' verdict travels in ``Quality``.

Descreening and cleaning change nothing on a clean signature crop (no dot pattern, no long
straight run), so the output there is that of earlier versions and ``PREPROCESS_VERSION``
stays.

Every failure is an ``ImageRejected`` subclass; nothing else escapes ``load_image``
or ``preprocess``.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

try:  # OpenCV's headless wheel: the same 3x3 median, much faster; numpy is the fallback
    import cv2
except ImportError:  # pragma: no cover - it is in requirements.txt
    cv2 = None

from . import quality as checks
from .cleaning import NOTHING, clean_ink
from .errors import (
    AspectRatioError,
    BlankImageError,
    CropError,
    EmptyFileError,
    ImageRejected,
    ImageTooLargeError,
    NotAnImageError,
    TruncatedImageError,
)

# Bump whenever the output of ``preprocess`` changes: model cards and caches record it.
PREPROCESS_VERSION = "3"
# What this version does, as the model card says it (``card_markdown``): change with the version.
PREPROCESS_STEPS = (
    "greyscale, median denoise, Otsu, background removed, ink crop, aspect-kept padding, resize, ink bright on zero"
)

MAX_PIXELS = 40_000_000  # a 600 dpi A4 page is ~35 Mpx; beyond that is a bomb
MAX_ASPECT_RATIO = 25.0
# Only these Pillow decoders ever see uploaded bytes: no EPS (runs Ghostscript), no rarely
# used parsers. (Camera JPEGs that Pillow reads as MPO come through its JPEG decoder.)
DECODERS = ("PNG", "JPEG", "TIFF", "BMP", "GIF", "WEBP")
MIN_INK_PIXELS = 30
MAX_INK_FRACTION = 0.4  # more "ink" than that is not a signature on paper (noise, a photo)
MIN_CONTRAST = 24  # grey levels between paper and darkest ink
MARGIN_FRACTION = 0.04

Source = bytes | bytearray | str | os.PathLike | BinaryIO


@dataclass(frozen=True)
class Quality:
    """What preprocessing learnt about an image; stored with references."""

    width: int
    height: int
    ink_fraction: float
    ink_box: tuple[int, int, int, int]  # x, y, width, height in the (cropped) input
    threshold: float
    paper_level: float
    checks_failed: tuple[str, ...] = ()  # names from ``quality.CHECKS``; empty: usable
    descreened: bool = False  # a dithered scan, low-pass filtered before the threshold
    printed_removed: int = 0  # ink pixels of printed rules, edges and legend taken out

    @property
    def usable(self) -> bool:
        return not self.checks_failed

    def as_dict(self) -> dict:
        return {
            "width": self.width,
            "height": self.height,
            "ink_fraction": round(self.ink_fraction, 5),
            "ink_box": list(self.ink_box),
            "threshold": round(self.threshold, 2),
            "paper_level": round(self.paper_level, 2),
            "checks_failed": list(self.checks_failed),
            "descreened": bool(self.descreened),
            "printed_removed": self.printed_removed,
            "preprocess_version": PREPROCESS_VERSION,
        }


def _read_bytes(source: Source) -> bytes:
    if isinstance(source, (bytes, bytearray)):
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as fh:
                return fh.read()
        except OSError as exc:
            raise NotAnImageError(f"cannot read {os.fspath(source)}: {exc.strerror}") from exc
    data = source.read()
    return data if isinstance(data, bytes) else bytes(data)


def load_image(source: Source, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode fully and orient an image; raise an ``ImageRejected`` on any problem."""
    data = _read_bytes(source)
    if not data:
        raise EmptyFileError("the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=DECODERS)
            width, height = image.size
            if width < 1 or height < 1:
                raise NotAnImageError("the image has no pixels")
            if width * height > max_pixels:
                raise ImageTooLargeError(
                    f"the image has {width}x{height} = {width * height:,} pixels, more than the limit of {max_pixels:,}"
                )
            pages = getattr(image, "n_frames", 1)
            image.seek(0)  # animated formats: the first frame only
            image.load()
            image = ImageOps.exif_transpose(image)
            image.info["pages"] = pages  # a blank page 1 of several is worth saying
    except ImageRejected:
        raise
    except UnidentifiedImageError as exc:
        raise NotAnImageError("the file is not an image in a supported format (PNG, JPEG, TIFF, BMP)") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard fired first (far over the limit): say it in the product's words.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)):,} pixels" if found else "more pixels than that"
        raise ImageTooLargeError(f"the image has {size}, more than the limit of {max_pixels:,}") from exc
    except (OSError, EOFError, SyntaxError, ValueError, IndexError, TypeError) as exc:
        text = str(exc).lower()
        if "truncated" in text or "broken data stream" in text or isinstance(exc, EOFError):
            raise TruncatedImageError("the image file is truncated or damaged") from exc
        raise NotAnImageError(f"the image could not be decoded: {exc}") from exc
    except Exception as exc:  # any other decoder bug must still come out typed
        raise NotAnImageError(f"the image could not be decoded: {exc}") from exc
    width, height = image.size
    if max(width, height) / max(1, min(width, height)) > MAX_ASPECT_RATIO:
        raise AspectRatioError(f"the image is {width}x{height} pixels, an aspect ratio beyond 1:{MAX_ASPECT_RATIO:g}")
    return image


def to_greyscale(image: Image.Image) -> np.ndarray:
    """Any mode to a float32 array in [0, 255]; transparency is composited on white."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(image, dtype=np.float32)
        if mode.startswith("I;16"):
            scale = 65535.0
        else:
            scale = float(arr.max()) if arr.size and arr.max() > 255 else 255.0
        return np.clip(arr * (255.0 / max(scale, 1.0)), 0, 255).astype(np.float32)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.asarray(image.convert("L"), dtype=np.float32)


def median3(image: np.ndarray) -> np.ndarray:
    """3x3 median of a uint8 image, edges replicated: equal to Pillow's ``MedianFilter(3)``.

    OpenCV's ``medianBlur`` (a SIMD sorting network, edges replicated) where it is installed;
    otherwise the exact 9-element median as a min/max network in numpy.
    """
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if cv2 is not None and image.ndim == 2 and image.size:
        return cv2.medianBlur(image, 3)
    return median3_numpy(image)


def median3_numpy(image: np.ndarray) -> np.ndarray:
    """``median3`` without OpenCV: sort each column of three, then the median of (largest low,
    middle mid, smallest high) over each row of three columns."""
    p = np.pad(image, 1, mode="edge")
    a, b, c = p[:-2], p[1:-1], p[2:]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    lo, mid, hi = np.minimum(lo, c), np.minimum(hi, np.maximum(lo, c)), np.maximum(hi, c)

    def med3(x, y, z):
        return np.maximum(np.minimum(x, y), np.minimum(np.maximum(x, y), z))

    left, centre, right = slice(None, -2), slice(1, -1), slice(2, None)
    max_lo = np.maximum(np.maximum(lo[:, left], lo[:, centre]), lo[:, right])
    med_mid = med3(mid[:, left], mid[:, centre], mid[:, right])
    min_hi = np.minimum(np.minimum(hi[:, left], hi[:, centre]), hi[:, right])
    return med3(max_lo, med_mid, min_hi)


def grey_histogram(grey: np.ndarray) -> np.ndarray:
    """Counts of the levels 0..255 (bins of width 1 from 0 to 256, as ``np.histogram`` makes them)."""
    if grey.dtype == np.uint8:
        return checks.level_histogram(grey)  # the same counts, without a float sort
    return np.histogram(grey, bins=256, range=(0, 256))[0]


def otsu_threshold(grey: np.ndarray, hist: np.ndarray | None = None) -> float:
    """Otsu's threshold on a 0..255 image (between-class variance maximised)."""
    hist = (grey_histogram(grey) if hist is None else hist).astype(np.float64)
    total = hist.sum()
    levels = np.arange(256, dtype=np.float64)
    weight_bg = np.cumsum(hist)
    weight_fg = total - weight_bg
    cum_mean = np.cumsum(hist * levels)
    mean_all = cum_mean[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_bg = cum_mean / weight_bg
        mean_fg = (mean_all - cum_mean) / weight_fg
        between = weight_bg * weight_fg * (mean_bg - mean_fg) ** 2
    between = np.nan_to_num(between)
    return float(np.argmax(between)) + 0.5


def _median_level(hist: np.ndarray, start: int = 0) -> float:
    """``np.median`` of the pixels at levels ``start`` and above that a histogram of integer levels
    counts (the mean of the two middle ones for an even count), without sorting them."""
    hist = hist[start:]
    n = int(hist.sum())
    cumulative = np.cumsum(hist)
    low = int(np.searchsorted(cumulative, (n - 1) // 2, side="right"))
    high = int(np.searchsorted(cumulative, n // 2, side="right"))
    return start + (low + high) / 2.0


def _grey_levels(image: Image.Image) -> np.ndarray:
    """``to_greyscale``, as its uint8 levels where they are whole numbers (every 8-bit mode)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return to_greyscale(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        return to_greyscale(image).astype(np.uint8)
    return np.asarray(image.convert("L"), dtype=np.uint8)


def _looks_dotted(grey: np.ndarray, hist: np.ndarray | None) -> bool:
    """A dithered scan: contrast, bilevel, and a dot pattern below Otsu's threshold. ``hist``:
    the ``grey_histogram`` of a uint8 ``grey``."""
    if hist is None:
        return (
            bool(grey.max() - grey.min() >= MIN_CONTRAST)
            and checks.bilevel(grey)
            and checks.looks_dithered(grey < otsu_threshold(grey))
        )
    present = np.flatnonzero(hist)
    return (
        bool(present[-1] - present[0] >= MIN_CONTRAST)
        and checks.bilevel_levels(hist)
        and checks.looks_dithered(grey <= int(otsu_threshold(grey, hist)))
    )


def to_greyscale_uint8(image: Image.Image) -> np.ndarray:
    """``to_greyscale`` truncated to uint8 (8-bit grey without a copy), as the cheque search uses it."""
    if image.mode == "L":
        return np.asarray(image, dtype=np.uint8)
    return to_greyscale(image).astype(np.uint8)


def require_ink(image: Image.Image, work_size: int = 1600) -> None:
    """Raise ``BlankImageError`` when a whole decoded page holds no ink (no contrast, or fewer
    than ``MIN_INK_PIXELS`` ink pixels). Large pages are reduced first by the darkest pixel of
    each block, so that a thin stroke is not averaged away and a 40-megapixel scan costs little."""
    if image.mode in ("1", "L", "RGB"):  # no transparency: Pillow's own conversion, far cheaper on big scans
        grey = np.asarray(image.convert("L"), dtype=np.uint8)
    else:
        grey = to_greyscale_uint8(image)
    factor = max(1, -(-max(grey.shape) // work_size))
    if factor > 1:
        h, w = (grey.shape[0] // factor) * factor, (grey.shape[1] // factor) * factor
        strided = [grey[i:h:factor, j:w:factor] for i in range(factor) for j in range(factor)]
        grey = np.minimum.reduce(strided)  # far faster than a reshape's min over two axes
    if grey.size == 0 or int(grey.max()) - int(grey.min()) < MIN_CONTRAST:
        raise BlankImageError("no ink found: the image is blank or has no contrast")
    if int((grey < otsu_threshold(grey)).sum()) < MIN_INK_PIXELS:
        raise BlankImageError("no ink found: the image looks blank")


def _apply_crop(image: Image.Image, crop) -> Image.Image:
    try:
        x, y, w, h = (int(v) for v in crop)
    except (TypeError, ValueError) as exc:
        raise CropError("crop must be four integers: x, y, width, height") from exc
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > image.width or y + h > image.height:
        raise CropError(f"crop box {x},{y},{w},{h} is not inside the {image.width}x{image.height} image")
    return image.crop((x, y, x + w, y + h))


def preprocess_image(
    image: Image.Image,
    size: tuple[int, int],
    crop=None,
    clean: bool = True,
) -> tuple[np.ndarray, Quality]:
    """Decoded image -> (uint8 array of ``size`` with ink bright on 0, quality info).

    ``clean=False`` skips descreening and the removal of printed rules (the pipeline before
    them, for comparisons); the quality checks run either way."""
    whole = image
    if crop is not None:
        image = _apply_crop(image, crop)
    # 8-bit sources (all but 16-bit and float ones) keep their uint8 levels: every statistic
    # below is then read off a 256-level histogram, which gives the float pipeline's values.
    raw = _grey_levels(image)
    raw_counts = grey_histogram(raw) if raw.dtype == np.uint8 else None
    dotted = _looks_dotted(raw, raw_counts)
    descreened = clean and dotted
    grey = checks.descreen(raw) if descreened else raw
    levels_u8 = median3(grey if grey.dtype == np.uint8 else grey.astype(np.uint8))  # 256 levels: tables per level
    hist = grey_histogram(levels_u8)
    present = np.flatnonzero(hist)
    if present[-1] - present[0] < MIN_CONTRAST:
        raise BlankImageError("no ink found: the image is blank or has no contrast")
    threshold = otsu_threshold(levels_u8, hist)
    lightest_ink = int(threshold)  # the threshold is a level + 0.5
    ink = levels_u8 <= lightest_ink
    ink_count = int(hist[: lightest_ink + 1].sum())
    still_dithered = dotted and (not descreened or checks.still_dithered(levels_u8.astype(np.float32), threshold))
    if ink_count < MIN_INK_PIXELS:
        raise BlankImageError("no ink found: the image looks blank")
    ink_fraction = ink_count / ink.size
    if ink_fraction > MAX_INK_FRACTION and not still_dithered:  # a dot pattern is referred, not refused
        raise BlankImageError("no signature found: most of the image is dark (a photo, noise or a black page?)")
    paper = _median_level(hist, int(np.ceil(threshold)))  # the median of the paper (not ink) pixels
    noise = 0.0 if dotted else checks.paper_noise(raw, ink, raw_counts)  # a dot pattern's "noise" is no scanner's
    uncleaned = ink
    ink, cleaning = clean_ink(ink) if clean else (ink, NOTHING)
    if ink is uncleaned:  # nothing removed: the strokes' levels are the histogram's darkest
        strokes = np.where(np.arange(256) <= lightest_ink, hist, 0)
    else:
        strokes = checks.level_histogram(levels_u8, ink)
        ink_count = int(strokes.sum())
    if ink_count < MIN_INK_PIXELS:
        raise BlankImageError("no signature found: the box holds printed lines only")
    ink_fraction = ink_count / ink.size
    cut = None if crop is None else _cut_by_box(whole, crop, threshold, descreened, clean)
    failed = checks.failed_checks(levels_u8, ink, paper, still_dithered, cut, noise, strokes)
    # Darkness relative to the paper, so grey and white paper give the same strokes: a float32
    # table per level, indexed by the pixels, does each pixel's sums once.
    table = np.arange(256, dtype=np.float32)
    darkness = np.clip((paper - table) / max(paper, 1.0), 0.0, 1.0)
    # Stretch so the darkest strokes reach 1: pens and scanner exposure vary, the shape does not.
    # (The strokes' darkness values, as a multiset, from their histogram: the same percentile.)
    peak = float(np.percentile(np.repeat(darkness, strokes), 95))
    stretched = (np.clip(darkness / max(peak, 1e-3), 0.0, 1.0) * 255.0).astype(np.uint8)

    y0, y1, x0, x1 = checks.ink_box(ink)
    box = np.where(ink[y0:y1, x0:x1], stretched[levels_u8[y0:y1, x0:x1]], 0).astype(np.uint8)
    height, width = size
    bh, bw = box.shape
    margin = int(round(MARGIN_FRACTION * max(bh, bw)))
    # Pad to the target aspect ratio, centred, so strokes are never stretched.
    canvas_h = max(bh + 2 * margin, int(np.ceil((bw + 2 * margin) * height / width)))
    canvas_w = max(bw + 2 * margin, int(np.ceil(canvas_h * width / height)))
    canvas = np.zeros((canvas_h, canvas_w), dtype=np.uint8)
    top = (canvas_h - bh) // 2
    left = (canvas_w - bw) // 2
    canvas[top : top + bh, left : left + bw] = box
    resized = Image.fromarray(canvas).resize((width, height), Image.Resampling.BILINEAR, reducing_gap=2.0)
    out = np.asarray(resized, dtype=np.uint8)
    quality = Quality(
        width=image.width,
        height=image.height,
        ink_fraction=ink_fraction,
        ink_box=(int(x0), int(y0), int(x1 - x0), int(y1 - y0)),
        threshold=threshold,
        paper_level=paper,
        checks_failed=tuple(failed),
        descreened=descreened,
        printed_removed=cleaning.removed_pixels,
    )
    return out, quality


def _cut_by_box(whole: Image.Image, crop, threshold: float, descreened: bool, clean: bool) -> bool:
    """Do strokes go on past the crop box? The box grown by a few pixels, through the same
    steps and threshold as the crop, then ``quality.strokes_cut``."""
    x, y, w, h = (int(v) for v in crop)
    ring = checks.CLIP_RING
    x0, y0 = max(0, x - ring), max(0, y - ring)
    x1, y1 = min(whole.width, x + w + ring), min(whole.height, y + h + ring)
    grey = to_greyscale(whole.crop((x0, y0, x1, y1)))
    if descreened:
        grey = checks.descreen(grey)
    ink = median3(grey.astype(np.uint8)) < threshold
    if clean:
        ink = clean_ink(ink)[0]
    return checks.strokes_cut(ink, (x - x0, y - y0, w, h))


def preprocess(source: Source, size: tuple[int, int], crop=None) -> np.ndarray:
    """Bytes, path or file -> preprocessed uint8 array. Raises ``ImageRejected``."""
    return preprocess_with_quality(source, size=size, crop=crop)[0]


def preprocess_with_quality(source: Source, size: tuple[int, int], crop=None, clean: bool = True):
    image = load_image(source)
    try:
        return preprocess_image(image, size=size, crop=crop, clean=clean)
    except ImageRejected:
        raise
    except Exception as exc:  # keep the promise: only typed errors leave this module
        raise NotAnImageError(f"the image could not be processed: {exc}") from exc


def to_float(array: np.ndarray) -> np.ndarray:
    """uint8 ink map -> float32 in [0, 1], the model's input scale."""
    return array.astype(np.float32) / 255.0
