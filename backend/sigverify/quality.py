"""Is a signature image usable? The checks behind an ``image_quality`` referral.

A model scores whatever it is shown: a dithered scan, a faint stroke broken into dots or a
signature cut off by the box gave confident answers on ink that is not the signature. These
checks run inside ``preprocess`` and are recorded in ``Quality.checks_failed``; the service
then refers the verification to a human with the reason instead of deciding.

Recovery first: a dithered (halftoned) scan, where grey paper became a pattern of black dots,
is descreened (a low-pass filter turns the dots back into grey) before the threshold, and
checked again; only when the strokes still cannot be told from the paper is it reported.

Thresholds sit well outside what the development data's clean crops measure (every image of
CEDAR, GPDS, BHSig260 passes; ``benchmarks/capture_quality.py`` prints the shares).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

try:  # OpenCV's headless wheel (requirements.txt): histograms and components many times faster
    import cv2
except ImportError:  # pragma: no cover
    cv2 = None

CHECKS = {
    "dithered": "the scan is dithered (halftoned): its dot pattern could not be told apart from the strokes",
    "faint": "the ink is too faint against the paper",
    "fragmented": "the strokes are broken into many small pieces",
    "clipped": "the signature runs over the edge of the box",
    "too_small": "the signature is too small in the image to compare",
    # set by the service, not by preprocessing: a crop "auto" on a cheque where the finder found nothing
    "not_found": "no signature was found on the cheque: the box is the layout rule's guess; draw the signature's box",
}

DITHER_ISOLATED_SHARE = 0.35  # of ink pixels with at most one ink pixel beside them (4-neighbours)
DITHER_MIN_INK = 0.02  # of the image: a few specks are no dot pattern
BILEVEL_SPREAD = 0.15  # of the grey range, from black or from white ...
BILEVEL_SHARE = 0.95  # ... where this share of the pixels lie in a bilevel scan
DESCREEN_SIGMA = 1.5  # pixels: wider than the dot pattern at 200-300 dpi, narrower than a stroke
DESCREENED_MIN_SEPARATION = 0.72  # Otsu's effectiveness a descreened scan needs (see ``separation``)
FAINT_CONTRAST = 40.0  # grey levels between the paper and the typical stroke, below which ...
FAINT_SNR = 8.0  # ... the strokes must stand this many times the paper's noise above it
FRAGMENT_MIN_PIECES = 40  # components; a signature has a few to a few dozen
FRAGMENT_SMALL_SHARE = 0.35  # of the ink in pieces under FRAGMENT_PIECE pixels
FRAGMENT_PIECE = 25
CLIP_MIN_CROSSINGS = 8  # strokes leaving through the border
CLIP_MIN_PIXELS = 0.2  # ... or this much ink on the border, as a share of the crop's short side
CUT_MIN_STROKES = 2  # strokes a crop box cuts through: the signature goes on outside it
CLIP_RING = 8  # pixels around a crop box looked at for strokes going on
CUT_MIN_REACH = 4  # pixels a stroke must run on outside the box: a halftone dot or speck beside it does not
CLIP_LINE = 0.25  # a run along the border this share of its length is an edge line, not strokes
MIN_INK_BOX = (20, 40)  # height, width in pixels of the ink's bounding box
MIN_STROKE_PIXELS = 300
EXACT_FLOAT_COUNTS = 2**24  # OpenCV's histogram counts in float32: exact below this many pixels


def level_histogram(levels: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
    """Counts (int64) of the levels 0..255 of a uint8 image, of the pixels where ``where``
    (boolean, the image's shape) is set, or of all."""
    if cv2 is None or levels.size >= EXACT_FLOAT_COUNTS:
        return np.bincount((levels if where is None else levels[where]).ravel(), minlength=256)
    levels = np.ascontiguousarray(levels)
    if where is not None:
        return _calc_histogram(levels, np.ascontiguousarray(where))
    # Counting pixel by pixel is slow where most fall in one bin (each count waits for the
    # last): the lightest level (the paper, often) is counted by a vectorised compare instead.
    lightest = int(levels.max())
    paper = levels == lightest
    counts = _calc_histogram(levels, ~paper)
    counts[lightest] = np.count_nonzero(paper)
    return counts


def _calc_histogram(levels: np.ndarray, where: np.ndarray) -> np.ndarray:
    return cv2.calcHist([levels], [0], where.view(np.uint8), [256], [0, 256]).ravel().astype(np.int64)


def histogram_median(counts: np.ndarray, values: np.ndarray | None = None) -> float:
    """``np.median`` of a multiset given as counts of ``values`` (ascending; default the levels
    0..255): the middle one, or the mean of the two middle ones for an even count."""
    cumulative = np.cumsum(counts)
    total = int(cumulative[-1])
    low = int(np.searchsorted(cumulative, (total - 1) // 2, side="right"))
    high = int(np.searchsorted(cumulative, total // 2, side="right"))
    if values is None:
        return (low + high) / 2.0
    return (float(values[low]) + float(values[high])) / 2.0


def ink_box(ink: np.ndarray) -> tuple[int, int, int, int]:
    """Rows and columns the ink spans: (top, bottom, left, right), the ends exclusive; zeros
    without ink."""
    if cv2 is not None:
        x, y, width, height = cv2.boundingRect(np.ascontiguousarray(ink).view(np.uint8))
        return y, y + height, x, x + width
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return 0, 0, 0, 0
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def isolated_share(ink: np.ndarray) -> float:
    """Share of ink pixels with at most one of their four neighbours inked: about 0 for
    strokes two or more pixels wide, most of a dot pattern's pixels."""
    total = int(np.count_nonzero(ink))
    if total == 0:
        return 0.0
    inked = ink.view(np.uint8)
    neighbours = np.zeros_like(inked)
    neighbours[1:] += inked[:-1]
    neighbours[:-1] += inked[1:]
    neighbours[:, 1:] += inked[:, :-1]
    neighbours[:, :-1] += inked[:, 1:]
    return float(np.count_nonzero((neighbours <= 1) & ink)) / total


def bilevel(grey: np.ndarray) -> bool:
    """Black and white (or nearly: a JPEG of a bilevel scan): only such a scan is dithered; in
    a grey scan isolated dark pixels are the scanner's noise."""
    low, high = float(grey.min()), float(grey.max())
    near = (grey <= low + BILEVEL_SPREAD * (high - low)) | (grey >= high - BILEVEL_SPREAD * (high - low))
    return bool(near.mean() >= BILEVEL_SHARE)


def bilevel_levels(counts: np.ndarray) -> bool:
    """``bilevel`` of a uint8 image from its ``level_histogram``: the same comparisons, made on
    each level (as float32, like the image's) instead of each pixel."""
    present = np.flatnonzero(counts)
    low, high = float(present[0]), float(present[-1])
    levels = np.arange(256, dtype=np.float32)
    near = (levels <= low + BILEVEL_SPREAD * (high - low)) | (levels >= high - BILEVEL_SPREAD * (high - low))
    return bool(int(counts[near].sum()) / int(counts.sum()) >= BILEVEL_SHARE)


def looks_dithered(ink: np.ndarray) -> bool:
    """A dot pattern: much ink, most of it pixels standing alone."""
    return bool(np.count_nonzero(ink) / ink.size >= DITHER_MIN_INK) and isolated_share(ink) >= DITHER_ISOLATED_SHARE


def separation(grey: np.ndarray, threshold: float) -> float:
    """Otsu's effectiveness: the share of the grey variance between ink and paper. Strokes on
    even paper measure 0.8 and more; a unimodal field of noise (dots that did not average out)
    about 2/pi = 0.64."""
    ink = grey < threshold
    share = float(ink.mean())
    variance = float(grey.var())
    if share in (0.0, 1.0) or variance == 0.0:
        return 0.0
    gap = float(grey[ink].mean()) - float(grey[~ink].mean())
    return share * (1.0 - share) * gap * gap / variance


def still_dithered(grey: np.ndarray, threshold: float) -> bool:
    """After descreening: are the strokes still not told apart from the paper?"""
    return looks_dithered(grey < threshold) or bool(separation(grey, threshold) < DESCREENED_MIN_SEPARATION)


def descreen(grey: np.ndarray) -> np.ndarray:
    """A low-pass copy of a dithered scan: the dots average back into the paper's grey, the
    strokes stay darker than it."""
    return ndimage.gaussian_filter(grey.astype(np.float32), DESCREEN_SIGMA, mode="nearest")


def failed_checks(
    grey: np.ndarray,
    ink: np.ndarray,
    paper: float,
    dithered: bool,
    cut_by_box: bool | None = None,
    noise: float = 0.0,
    strokes: np.ndarray | None = None,
) -> list[str]:
    """Names (keys of ``CHECKS``) of the checks this image fails; empty when usable.

    ``grey`` is the image the threshold was taken on, ``ink`` the final ink mask (rules
    removed), ``paper`` the paper's grey level, ``dithered`` whether the pattern survived
    descreening, ``cut_by_box`` whether strokes run on past a crop box (``strokes_cut``;
    None without a box: the crop's own border is looked at instead), ``noise`` the paper's
    noise as scanned (``paper_noise``); ``strokes``, for a uint8 ``grey``, its
    ``level_histogram`` under ``ink`` where the caller has it."""
    failed = []
    if dithered:
        failed.append("dithered")
    if _faint(grey, ink, paper, noise, strokes):
        failed.append("faint")
    if _fragmented(ink):
        failed.append("fragmented")
    if cut_by_box if cut_by_box is not None else _clipped(ink):
        failed.append("clipped")
    top, bottom, left, right = ink_box(ink)
    if bottom - top < MIN_INK_BOX[0] or right - left < MIN_INK_BOX[1] or np.count_nonzero(ink) < MIN_STROKE_PIXELS:
        failed.append("too_small")
    return failed


def _faint(grey: np.ndarray, ink: np.ndarray, paper: float, noise: float, strokes: np.ndarray | None = None) -> bool:
    """Strokes barely darker than the paper's own noise (as scanned, before the median): the
    threshold cut through the noise. Light strokes on clean paper, as in resized scans, are
    fine: their darkness is stretched."""
    if grey.dtype == np.uint8:  # the median of the strokes' levels from their histogram, no sort
        strokes = level_histogram(grey, ink) if strokes is None else strokes
        if not strokes.any():
            return False
        typical = histogram_median(strokes)
    else:
        if not ink.any():
            return False
        typical = float(np.median(grey[ink]))
    contrast = paper - typical
    return contrast < FAINT_CONTRAST and contrast < FAINT_SNR * noise


def paper_noise(raw: np.ndarray, ink: np.ndarray, counts: np.ndarray | None = None) -> float:
    """The paper's grey-level noise as scanned (a robust standard deviation of the non-ink pixels).
    A uint8 ``raw`` is measured on its histogram (``counts``, its ``level_histogram`` where the
    caller has it): the same medians, without a sort."""
    if raw.dtype == np.uint8:
        counts = level_histogram(raw) if counts is None else counts
        counts = counts - level_histogram(raw, ink)  # the paper: all but the ink
        if not counts.any():
            return 0.0
        centre = histogram_median(counts)
        deviations = np.abs(np.arange(256) - centre)
        order = np.argsort(deviations, kind="stable")
        return 1.4826 * histogram_median(counts[order], deviations[order])
    background = raw[~ink]
    if background.size == 0:
        return 0.0
    return 1.4826 * float(np.median(np.abs(background - np.median(background))))


def _fragmented(ink: np.ndarray) -> bool:
    if cv2 is not None:  # the same 8-connected pieces, labelled many times faster
        count, labels = cv2.connectedComponents(np.ascontiguousarray(ink).view(np.uint8), connectivity=8)
        count -= 1  # label 0 is the paper
    else:  # pragma: no cover - OpenCV is in requirements.txt
        labels, count = ndimage.label(ink, structure=np.ones((3, 3), dtype=bool))
    if count < FRAGMENT_MIN_PIECES:
        return False
    sizes = np.bincount(labels[ink], minlength=count + 1)[1:]
    return float(sizes[sizes < FRAGMENT_PIECE].sum()) / max(1, int(sizes.sum())) >= FRAGMENT_SMALL_SHARE


def border_contact(ink: np.ndarray) -> tuple[int, float]:
    """(strokes running out through the crop's border, their ink on the border as a share of
    the crop's short side). A straight line along the border (a scanner's or a form's edge)
    is no stroke and does not count."""
    height, width = ink.shape
    crossings, touching = 0, 0
    sides = (
        (ink[0], ink[1:5]),
        (ink[-1], ink[-5:-1]),
        (ink[:, 0], ink[:, 1:5].T),
        (ink[:, -1], ink[:, -5:-1].T),
    )
    for edge, inner in sides:
        if not edge.any():  # no ink on this side: nothing enters through it
            continue
        length = max(8, int(CLIP_LINE * edge.size))
        along = ndimage.minimum_filter1d(edge.view(np.uint8), length, mode="constant")
        line = ndimage.maximum_filter1d(along, length, mode="constant").astype(bool)
        entering = edge & ~line & inner.any(axis=0)  # ink on the border that goes on inwards
        touching += int(entering.sum())
        crossings += int(np.count_nonzero(np.diff(np.r_[0, entering.view(np.uint8), 0]) == 1))
    return crossings, touching / max(1, min(height, width))


def _clipped(ink: np.ndarray) -> bool:
    crossings, touching = border_contact(ink)
    return bool(crossings >= CLIP_MIN_CROSSINGS or touching >= CLIP_MIN_PIXELS)


def strokes_cut(ink: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """Do strokes run on past the crop box? ``ink`` covers the box grown by a few pixels
    (as far as the image goes), ``box`` is x, y, width, height of the crop inside it. Ink on
    the box's edge that continues outside it, as a piece reaching at least ``CUT_MIN_REACH``
    pixels away from the box, is a stroke the box cut; two or more such strokes and the
    signature is clipped. Smaller pieces are the dots of a halftone background or specks: on
    generated cheques they flagged a box around the whole signature as clipped."""
    x, y, width, height = box
    away = _beyond(ink, box)
    cuts = 0
    sides = []
    if y > 0:
        sides.append((ink[y, x : x + width], away[y - 1, x : x + width]))
    if y + height < ink.shape[0]:
        sides.append((ink[y + height - 1, x : x + width], away[y + height, x : x + width]))
    if x > 0:
        sides.append((ink[y : y + height, x], away[y : y + height, x - 1]))
    if x + width < ink.shape[1]:
        sides.append((ink[y : y + height, x + width - 1], away[y : y + height, x + width]))
    for inside, outside in sides:
        continuing = inside & ndimage.maximum_filter1d(outside.view(np.uint8), 3).astype(bool)
        cuts += int(np.count_nonzero(np.diff(np.r_[0, continuing.view(np.uint8), 0]) == 1))
    return bool(cuts >= CUT_MIN_STROKES)


def _beyond(ink: np.ndarray, box) -> np.ndarray:
    """The ink outside ``box`` that belongs to a piece (8-connected, outside the box) reaching
    ``CUT_MIN_REACH`` pixels or more from it."""
    x, y, width, height = box
    rows, cols = np.arange(ink.shape[0]), np.arange(ink.shape[1])
    dy = np.maximum(np.maximum(y - rows, rows - (y + height - 1)), 0)
    dx = np.maximum(np.maximum(x - cols, cols - (x + width - 1)), 0)
    reach = np.maximum(dy[:, None], dx[None, :])  # 0 inside the box
    outside = ink & (reach > 0)
    labels, count = ndimage.label(outside, structure=np.ones((3, 3), bool))
    if not count:
        return outside
    far = np.zeros(count + 1, bool)
    far[np.unique(labels[outside & (reach >= CUT_MIN_REACH)])] = True
    far[0] = False
    return far[labels]


def describe(failed: list[str]) -> str:
    """One sentence for the clerk naming what failed."""
    return "The image cannot be judged reliably: " + "; ".join(CHECKS[name] for name in failed) + "."
