"""Every signature on a whole cheque, found by a learned classifier of ink components.

Layout rules alone (``cheque``: the largest ink in the lower right) failed on a real archive
cheque, so this module learns what a signature's ink looks like beside print, rules,
security backgrounds, the code line and the other handwritten fields:

1. The scan is reduced to ``WORK_HEIGHT`` rows by area averaging (a dithered bilevel scan is
   then descreened by a small Gaussian, ``DESCREEN_SIGMA``, and read as a grey one),
   thresholded between the paper and the darkest ink (on a grey scan the paler edges of thin
   strokes join the ink they touch), deskewed (the shear that makes
   the rows of ink sharpest), and the long straight runs (printed rules, box edges) are set
   apart.
2. Each remaining connected component of ink gets features: its size, fill, stroke width,
   elongation and darkness; where it is; what lies around it (how many neighbours of the
   same height sit on its baseline, as printed text does; the ink density around it; the
   group of ink it belongs to once close strokes are joined); and the nearest rule below.
3. Gradient-boosted trees (scikit-learn, trained on generated cheques of the training
   layouts and writers: ``python -m sigverify train-signature-finder``) give each component
   a probability of being signature ink. The trees ship as plain arrays
   (``signature_finder.npz`` and its card ``signature_finder.json``), read without pickle.
4. Candidate boxes: the likely signature components grouped at several seed thresholds and
   gaps (grown through their ink groups or the seeds alone; kept apart on two printed lines or
   not), a signature's words joined along a baseline, and pairs of candidates joined (the
   two halves of a signature cut by its printed line). Each candidate gets cheap features
   (size, place, ink, the probabilities inside and around it, printed rules across it) and
   regression trees (``signature_boxes.npz``, its card ``signature_boxes.json``; trained on
   generated cheques of the training layouts) predict its IoU with a written signature.
5. A candidate holding two others side by side, each likely (``SPLIT_MIN_SCORE``) and a clear gap
   apart (``SPLIT_GAP``), is dropped: two signers on one line are two signatures.
   The best candidates that overlap no better one are kept down to ``MIN_CONFIDENCE``: each is
   a ``FoundSignature`` with its box in the scan's pixels and that predicted IoU as its
   confidence. Without the second stage's file, the grouping rules alone answer
   (``group_signatures``: confidence the ink-weighted mean probability).

Django-free; the service's ``signature-region`` endpoint returns every group found.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from .morphology import component_boxes, label_boxes, label_components, max1d, min1d
from .preprocess import median3, to_greyscale

WORK_HEIGHT = 360  # rows analysed: about 100-140 dpi for a 2.6-3.7 inch cheque
RULE_MIN_LENGTH = 0.3  # of the height: a straight horizontal run this long is a printed rule
EDGE_MIN_LENGTH = 0.25  # of the height: a vertical run this long is a box edge or border
JOIN = (0.025, 0.05)  # dilation (rows, columns; of the height) that joins the strokes of a word
GROUP_GAP = (0.05, 0.08)  # signature components closer than this (rows, columns) make one signature
WORD_GAP = 0.12  # of the height: signature words on one baseline, this close and over one rule, are one signature
MIN_GROUP_HEIGHT = 0.05  # of the height: smaller groups are dots and dashes, not a signature
MIN_GROUP_INK = 4e-4  # of height squared
MIN_MEMBER_INK = (
    6e-5  # of height squared: smaller specks (a dithered background's dots) neither bridge nor stretch a box
)
THRESHOLD = 0.35  # component probability counted as signature ink
GROW_THRESHOLD = 0.1  # near signature ink, a component this likely joins it
INK_LEVEL = (
    0.3  # ink: darker than this share of the way from the paper to the darkest strokes (faint pen at working size)
)
FAINT_INK_LEVEL = 0.2  # on a grey scan, paler pixels still count where they touch ink (a thin stroke's edges)
DITHERED_ISOLATED = 0.1  # of a bilevel scan's black pixels, alone (no black 4-neighbour): it was dithered
DESCREEN_SIGMA = 0.7  # working pixels: a dithered scan's Gaussian after the area average (then read as grey)
FLATTEN_SIZE = 0.04  # of the height: a descreened page over its local paper (a grey closing this wide)
THIN_STROKE_SCALE = 1.5  # a grey scan this many times the working size: its darkest 3 x 3 first (a thin pale stroke)
BILEVEL_FAINT_LEVEL = 0.15  # on a bilevel scan, paler pixels count where they are next to ink (broken thin strokes)
DESCREENED_SHARE = 0.1  # ... unless this share of the page away from ink is grey at working size (a dithered scan)
SKEW_STEP, SKEW_MAX = 0.4, 2.4  # degrees: the page's skew is found to this step, within this range
MAX_COMPONENTS = 1000  # beyond, the smallest specks are dropped: a dithered background (row features cost n squared)
LOW_CONFIDENCE = 0.5  # under it a box may be other ink: it counts only where a signatory accepts it
MODEL_PATH = Path(__file__).with_name("signature_finder.npz")
CARD_PATH = Path(__file__).with_name("signature_finder.json")

# The second stage: candidate boxes scored by regression trees that predict their IoU with a signature.
BOXES_PATH = Path(__file__).with_name("signature_boxes.npz")
BOXES_CARD_PATH = Path(__file__).with_name("signature_boxes.json")
CANDIDATE_THRESHOLDS = (0.1, 0.35, 0.6)  # seed probabilities of the candidate groupings
CANDIDATE_GAPS = (0.5, 1.0, 2.0)  # times GROUP_GAP
PAIR_GAP = (
    0.08,
    0.15,
)  # of the height: two candidates this close (across a line; along a baseline) are also tried joined
MAX_CANDIDATES = 40  # the most massive candidates scored (speed)
GROWN_CANDIDATES = 12  # the most massive candidates also tried grown over nearby likely specks (``_grown``)
GROW_PIECES = (0.2, 0.5)  # probabilities at which a piece of ink, however small, grows a candidate
GROW_MARGIN = (0.05, 0.06)  # of the height (rows, columns): a piece this close to a candidate joins it
GROW_STEPS = 3
MIN_CONFIDENCE = 0.3  # predicted IoU: a candidate scored lower is not a signature
MAX_OVERLAP = 0.3  # of the smaller box: a kept signature's box does not overlap another's more
SPLIT_MIN_SCORE = 0.4  # two candidates each scored this high, side by side ...
SPLIT_GAP = 0.75  # ... this many times the taller one's height apart: a box holding both is never kept

FEATURES = (
    "width",
    "height",
    "area",
    "fill",
    "log_aspect",
    "stroke_width",
    "elongation",
    "darkness",
    "centre_x",
    "centre_y",
    "left",
    "right",
    "top",
    "bottom",
    "row_peers",
    "row_same_height",
    "row_neighbours",
    "height_to_row_median",
    "density_near",
    "density_wide",
    "group_width",
    "group_height",
    "group_ink",
    "group_members",
    "group_height_spread",
    "group_centre_x",
    "group_centre_y",
    "rule_below",
    "rule_above",
    "touches_rule",
    "rule_length_below",
    "page_ink",
    "bilevel",
    "dithered",
)


BOX_FEATURES = (
    "left",
    "top",
    "right",
    "bottom",
    "width",
    "height",
    "log_aspect",
    "components",
    "likely_components",
    "ink",
    "ink_density",
    "signature_ink",
    "signature_share",
    "unlikely_share",
    "max_probability",
    "likely_probability",
    "page_signature_share",
    "signature_ink_near",
    "signature_ink_beside",
    "signature_ink_above_below",
    "height_spread",
    "member_height",
    "rules_across",
    "rule_through_middle",
    "rule_below",
    "seed_threshold",
    "gap_scale",
    "joined",
    "mass_rank",
    "mass_to_best",
    "page_ink",
    "bilevel",
    "dithered",
    "widest_gap",
    "narrow_side",
    "side_balance",
)


@dataclass(frozen=True)
class FoundSignature:
    box: tuple[int, int, int, int]  # x, y, width, height in the scan's pixels
    confidence: float  # 0..1


@dataclass
class Components:
    """The ink components of one cheque at working size, with their features."""

    labels: np.ndarray  # int32 (h, w): component id per pixel, 0 = none
    boxes: np.ndarray  # (n, 4) x0, y0, x1, y1 at working size
    areas: np.ndarray  # (n,)
    features: np.ndarray  # (n, len(FEATURES)) float32
    groups: np.ndarray  # (n,) the ink group (strokes joined by a letter gap) of each component
    scale: float  # scan pixels per working pixel
    size: tuple[int, int]  # the scan's width, height
    rules: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # (row, x0, x1) of each printed rule
    slope: float = 0.0  # the page's skew (rows per column), taken out at working size: see ``deskew``


# ---------------------------------------------------------------- ink at working size


def working_grey(image: Image.Image) -> tuple[np.ndarray, float, bool, bool]:
    """(grey uint8 at WORK_HEIGHT rows, scan pixels per working pixel, the scan is bilevel, it
    is a dithered bilevel)."""
    bilevel = image.mode == "1"
    if image.mode not in ("L", "1", "RGB"):
        image = Image.fromarray(to_greyscale(image).astype(np.uint8))
    dithered = bilevel and _dithered(image)
    grey = image.convert("L")
    scale = grey.height / WORK_HEIGHT
    if scale > 1:  # area average: a dithered grey turns back into grey
        width = max(1, int(round(grey.width / scale)))
        if scale >= THIN_STROKE_SCALE and not dithered:
            # A pen stroke a scan pixel or two wide, and paler than the print, averaged with the
            # paper around it would fall under the ink level (the signature broke into specks or
            # vanished): each pixel takes the darkest of its 3 x 3 first, which widens every
            # stroke by about one working pixel at most. The same on a thresholded bilevel scan
            # (a thin stroke there is a broken line of single pixels), not on a dithered one (its
            # dots would blacken every grey).
            grey = Image.fromarray(_darkest3(np.asarray(grey, dtype=np.uint8)))
        grey = grey.resize((width, WORK_HEIGHT), Image.Resampling.BOX)
    else:
        scale = 1.0
    array = np.asarray(grey, dtype=np.uint8)
    if dithered:
        # Descreened: the area average leaves a dither's dots as a grain as strong as a faint
        # pen stroke (a few scan pixels per working pixel); a Gaussian at working size smooths
        # it out, and the page is then thresholded as a grey scan (``ink_mask``).
        smooth = ndimage.gaussian_filter(array.astype(np.float32), DESCREEN_SIGMA)
        # ... and flattened: each pixel over its paper (a grey closing, ``FLATTEN_SIZE`` of the
        # height), so a security background's shading does not pass for faint pen.
        size = max(3, int(FLATTEN_SIZE * smooth.shape[0]) | 1)
        paper = min1d(min1d(max1d(max1d(smooth, size, 0), size, 1), size, 0), size, 1)
        array = np.clip(255.0 * smooth / np.maximum(paper, 1.0) + 0.5, 0, 255).astype(np.uint8)
    elif bilevel and scale > 1:  # the dots of a dithered pattern survive a small reduction
        array = ndimage.uniform_filter(array, 2)
    elif not bilevel:
        array = median3(array)
    return array, float(scale), bilevel, dithered


def _dithered(image: Image.Image) -> bool:
    """A bilevel scan is dithered when ``DITHERED_ISOLATED`` of its black pixels have no black
    4-neighbour (a dither's scattered dots; a thresholded scan's strokes are solid). Every other
    row is looked at, with the rows above and below."""
    white = np.asarray(image, dtype=bool)
    if white.shape[0] < 3 or white.shape[1] < 2:
        return False
    black = ~white
    centre = black[1:-1:2]
    near = black[0:-2:2] | black[2::2]
    near[:, 1:] |= centre[:, :-1]
    near[:, :-1] |= centre[:, 1:]
    count = int(np.count_nonzero(centre))
    return count > 0 and np.count_nonzero(centre & ~near) >= DITHERED_ISOLATED * count


def _darkest3(array: np.ndarray) -> np.ndarray:
    """Each pixel's darkest 3 x 3 neighbour (a minimum filter, as two 1-D passes)."""
    return min1d(min1d(array, 3, axis=1), 3, axis=0)


def _percentile(hist_cumsum: np.ndarray, q: float) -> float:
    """The q-th percentile of a uint8 image from its cumulative histogram (no sort)."""
    return float(np.searchsorted(hist_cumsum, q / 100 * hist_cumsum[-1]))


def ink_mask(grey: np.ndarray, bilevel: bool = False) -> np.ndarray:
    """Ink: darker than ``INK_LEVEL`` of the way from the paper (a high percentile) to the darkest
    strokes. On a grey scan, a thin pen stroke reduced to working size is pale: its paler pixels
    (``FAINT_INK_LEVEL``) count too where they touch ink, so the stroke does not break into
    pieces (hysteresis). On a bilevel scan a thin stroke reduced to working size is broken into
    specks, partly covered pixels between them: those paler pixels (``BILEVEL_FAINT_LEVEL``)
    count where they are next to ink, one pixel deep only, and not on a dithered scan (where
    ``DESCREENED_SHARE`` of the page away from ink is grey: its descreened background would join
    the strokes to everything around them)."""
    if grey.size == 0:
        return np.zeros(grey.shape, bool)
    cumulative = np.cumsum(np.bincount(grey.ravel(), minlength=256))
    paper, darkest = _percentile(cumulative, 75), _percentile(cumulative, 0.3)
    if paper - darkest < 24:
        return np.zeros(grey.shape, bool)
    ink = grey < paper - INK_LEVEL * (paper - darkest)
    if bilevel:
        near = max1d(max1d(ink.view(np.uint8), 3, axis=0), 3, axis=1).view(bool)  # a 3 x 3 dilation
        if np.mean((grey < paper - 0.02 * (paper - darkest)) & ~near) >= DESCREENED_SHARE:
            return ink  # a dithered scan: its descreened background is grey all over
        faint = grey < paper - BILEVEL_FAINT_LEVEL * (paper - darkest)
        return ink | (faint & near)
    faint = grey < paper - FAINT_INK_LEVEL * (paper - darkest)
    labels, count = label_components(faint)
    touching = np.zeros(count + 1, bool)
    touching[labels[ink]] = True
    touching[0] = False
    return touching[labels]


def _runs(mask: np.ndarray, length: int, axis: int) -> np.ndarray:
    """Pixels on a straight run of at least ``length`` along ``axis`` (gaps of 2 bridged).

    Only the rows (or columns) holding that much ink can hold such a run: the 1-D closing and
    opening run on those alone."""
    lines = np.flatnonzero(mask.sum(axis=axis) >= 0.8 * length)
    out = np.zeros_like(mask)
    if lines.size == 0:
        return out
    values = (mask[lines] if axis == 1 else mask[:, lines]).view(np.uint8)
    bridged = min1d(max1d(values, 3, axis), 3, axis)
    eroded = min1d(bridged, length, axis, outside_zero=True)
    runs = max1d(eroded, length, axis).view(bool)  # (0 past the edge adds nothing to a maximum)
    if axis == 1:
        out[lines] = runs & mask[lines]
    else:
        out[:, lines] = runs & mask[:, lines]
    return out


def page_slope(ink: np.ndarray) -> float:
    """The page's skew (rows per column): the shear that makes the row profile of the ink
    sharpest (printed rules and text lines straight)."""
    ys, xs = np.nonzero(ink[:, ::2])
    if ys.size < 50:
        return 0.0
    xs = xs * 2.0
    best, best_slope = -1.0, 0.0
    steps = np.arange(-SKEW_MAX, SKEW_MAX + 1e-6, SKEW_STEP)
    for degrees in steps[np.argsort(np.abs(steps), kind="stable")]:  # level first: a tie stays unsheared
        slope = math.tan(math.radians(degrees))
        rows = np.round(ys - slope * xs).astype(np.int64)
        profile = np.bincount(rows - rows.min()).astype(np.float64)
        score = float(profile @ profile)
        if score > best * 1.0001:
            best, best_slope = score, slope
    return best_slope


def _shifts(slope: float, width: int) -> np.ndarray:
    """Rows each column moves by when deskewed (0 at the middle column)."""
    return np.round(slope * (np.arange(width) - width / 2)).astype(np.int64)


def deskew(array: np.ndarray, slope: float, fill) -> np.ndarray:
    """Columns shifted so that a line of ``slope`` becomes a row (same shape; ``fill`` where
    nothing comes in). Printed rules skewed by a scanner are straight runs again."""
    if slope == 0:
        return array
    height, width = array.shape
    shifts = _shifts(slope, width)
    out = np.full_like(array, fill)
    starts = np.flatnonzero(np.diff(shifts, prepend=shifts[0] - 1))  # runs of columns moved alike
    for a, b in zip(starts, np.append(starts[1:], width), strict=True):
        shift = min(max(int(shifts[a]), -height), height)
        if shift >= 0:
            out[: height - shift, a:b] = array[shift:, a:b]
        else:
            out[-shift:, a:b] = array[: height + shift, a:b]
    return out


def components(image: Image.Image) -> Components:
    grey, scale, bilevel, dithered = working_grey(image)
    ink = ink_mask(grey, bilevel and not dithered)  # a descreened dithered scan is thresholded as grey
    slope = page_slope(ink)
    if slope:
        grey = deskew(grey, slope, np.uint8(255))
        ink = deskew(ink, slope, False)
    height, width = ink.shape
    horizontal = _runs(ink, max(8, int(RULE_MIN_LENGTH * height)), axis=1)
    vertical = _runs(ink, max(8, int(EDGE_MIN_LENGTH * height)), axis=0)
    rules = horizontal | vertical
    strokes = ink & ~rules
    labels, count = label_components(strokes)
    if count > MAX_COMPONENTS:  # keep the largest; the rest is speckle
        sizes = np.bincount(labels.ravel(), minlength=count + 1)
        sizes[0] = 0
        keep = np.zeros(count + 1, bool)
        keep[np.argsort(sizes)[-MAX_COMPONENTS:]] = True
        keep[0] = False
        strokes = keep[labels]
        labels, count = label_components(strokes)
    boxes = component_boxes(labels)  # the kept ones only: boxing thousands of specks costs more than labelling
    rule_rows = _rule_rows(horizontal)
    features, boxes, areas, groups = _features(
        grey, labels, count, strokes, horizontal, rule_rows, bilevel, dithered, boxes
    )
    return Components(labels, boxes, areas, features, groups, scale, image.size, rule_rows, slope)


def _features(grey, labels, count, strokes, horizontal, rule_rows, bilevel, dithered=False, boxes=None):
    """Each component's features; ``boxes``: their (x0, y0, x1, y1), as the labelling gave them."""
    height, width = labels.shape
    H = float(height)
    n = count
    if n == 0:
        return np.zeros((0, len(FEATURES)), np.float32), np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)
    flat = labels.ravel()
    idx = flat > 0
    lab = flat[idx] - 1
    ys, xs = np.divmod(np.flatnonzero(idx), width)
    area = np.bincount(lab, minlength=n).astype(np.float64)
    sx, sy = np.bincount(lab, xs, n), np.bincount(lab, ys, n)
    sxx, syy, sxy = np.bincount(lab, xs * xs, n), np.bincount(lab, ys * ys, n), np.bincount(lab, xs * ys, n)
    dark = np.bincount(lab, 255.0 - grey.ravel()[idx], n) / area / 255.0
    if boxes is None:
        slices = ndimage.find_objects(labels)
        boxes = [(s[1].start, s[0].start, s[1].stop, s[0].stop) for s in slices]
    boxes = np.asarray(boxes, np.float64)
    x0, y0, x1, y1 = boxes.T
    w, h = x1 - x0, y1 - y0
    # Boundary pixels (ink with a 4-neighbour off ink): stroke width ~ 2 * area / boundary.
    interior = strokes.copy()
    interior[1:] &= strokes[:-1]
    interior[:-1] &= strokes[1:]
    interior[:, 1:] &= strokes[:, :-1]
    interior[:, :-1] &= strokes[:, 1:]
    boundary = np.bincount(labels[strokes & ~interior] - 1, minlength=n).astype(np.float64)
    stroke_width = 2 * area / np.maximum(boundary, 1)
    mx, my = sx / area, sy / area
    cxx, cyy, cxy = sxx / area - mx * mx, syy / area - my * my, sxy / area - mx * my
    root = np.sqrt(np.maximum(((cxx - cyy) / 2) ** 2 + cxy * cxy, 0))
    big, small = (cxx + cyy) / 2 + root, (cxx + cyy) / 2 - root
    elongation = np.sqrt(np.maximum(small, 0.01) / np.maximum(big, 0.01))

    # Row context: text sits on a baseline with peers of the same height. Only pairs of components
    # a few rows apart can be peers: they are found in the components sorted by height on the page
    # (a dithered page has a thousand specks, and every pair would cost most of the finder's time).
    cy = (y0 + y1) / 2
    reach = 0.25 * np.maximum(h, 2)
    i, j = _pairs_near(y1, reach)
    same_row = (np.abs(y1[i] - y1[j]) < reach[i]) & (np.abs(x0[i] - x0[j]) < 6 * np.maximum(h[i], 4)) & (i != j)
    similar = np.abs(h[i] - h[j]) < 0.2 * np.maximum(h[i], 2)
    row_peers = np.bincount(i[same_row], minlength=n)
    row_same_height = np.bincount(i[same_row & similar], minlength=n)
    i, j = _pairs_near(cy, np.full(n, 0.06 * H))
    band = (np.abs(cy[i] - cy[j]) < 0.06 * H) & (np.abs(x0[i] - x0[j]) < 0.4 * H)
    i, j = i[band], j[band]
    row_neighbours = np.bincount(i, minlength=n) - 1
    row_median = _pairs_row_median(i, j, h, n)

    # Ink density around each component (integral image of the stroke mask).
    # On 4 x 4 blocks: a density over tens of pixels needs no finer grid.
    bh, bw = height // 4, width // 4
    blocks = strokes[: bh * 4, : bw * 4].reshape(bh, 4, bw, 4).sum(axis=(1, 3), dtype=np.int32)
    integral = np.pad(blocks.cumsum(0).cumsum(1), ((1, 0), (1, 0)))

    def density(rx, ry):
        cx_, cy_ = (x0 + x1) / 8, cy / 4
        a0 = np.clip((cx_ - rx / 4).astype(int), 0, bw)
        a1 = np.clip((cx_ + rx / 4).astype(int), 0, bw)
        b0 = np.clip((cy_ - ry / 4).astype(int), 0, bh)
        b1 = np.clip((cy_ + ry / 4).astype(int), 0, bh)
        total = integral[b1, a1] - integral[b0, a1] - integral[b1, a0] + integral[b0, a0]
        return total / np.maximum((a1 - a0) * (b1 - b0) * 16, 1)

    # Groups: strokes joined by a dilation about a letter gap.
    joined = max1d(strokes.view(np.uint8), max(3, int(JOIN[0] * H)), axis=0)
    joined = max1d(joined, max(3, int(JOIN[1] * H)), axis=1)
    groups, n_groups, gboxes = label_boxes(joined, connectivity=4)
    # Each component lies in one group (the dilation joins its diagonal steps): any one of its
    # pixels names the group (ndimage.maximum would sort every pixel: most of the finder's time).
    anywhere = np.zeros(n, np.int64)
    anywhere[lab] = np.flatnonzero(idx)
    member = groups.ravel()[anywhere].astype(np.int64) - 1
    gboxes = gboxes.astype(np.float64)
    gink = np.bincount(member, area, n_groups)
    gcount = np.bincount(member, minlength=n_groups)
    gh_mean = np.bincount(member, h, n_groups) / np.maximum(gcount, 1)
    gh_sq = np.bincount(member, h * h, n_groups) / np.maximum(gcount, 1)
    gspread = np.sqrt(np.maximum(gh_sq - gh_mean**2, 0)) / np.maximum(gh_mean, 1)
    gb = gboxes[member]

    # The nearest horizontal rule below and above, under the component's middle.
    below, above, below_len = _rules_near(rule_rows, (x0 + x1) / 2, y0, y1, H)
    touches = np.zeros(n, bool)
    near_rule = horizontal.copy()
    near_rule[1:] |= horizontal[:-1]
    near_rule[:-1] |= horizontal[1:]
    near_rule &= strokes
    touches[np.unique(labels[near_rule]) - 1] = True

    cols = [
        w / H,
        h / H,
        area / H**2,
        area / np.maximum(w * h, 1),
        np.log(np.maximum(w, 1) / np.maximum(h, 1)),
        stroke_width,
        elongation,
        dark,
        (x0 + x1) / 2 / width,
        cy / H,
        x0 / width,
        x1 / width,
        y0 / H,
        y1 / H,
        row_peers,
        row_same_height,
        row_neighbours,
        h / np.maximum(row_median, 1),
        density(0.05 * H, 0.05 * H),
        density(0.25 * H, 0.12 * H),
        (gb[:, 2] - gb[:, 0]) / H,
        (gb[:, 3] - gb[:, 1]) / H,
        gink[member] / H**2,
        gcount[member],
        gspread[member],
        (gb[:, 0] + gb[:, 2]) / 2 / width,
        (gb[:, 1] + gb[:, 3]) / 2 / H,
        below,
        above,
        touches,
        below_len,
        np.full(n, strokes.mean()),
        np.full(n, float(bilevel)),
        np.full(n, float(dithered)),
    ]
    return np.stack(cols, axis=1).astype(np.float32), boxes, area, member


def _pairs_near(values: np.ndarray, reach: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(i, j): every pair with ``values[j]`` within ``reach[i]`` of ``values[i]`` (and a little more:
    the caller applies its exact test to these), i itself included, i ascending."""
    n = values.shape[0]
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    start = np.searchsorted(ranked, values - reach - 1, side="left")
    stop = np.searchsorted(ranked, values + reach + 1, side="right")
    counts = stop - start
    i = np.repeat(np.arange(n), counts)
    within = np.arange(i.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return i, order[np.repeat(start, counts) + within]


def _pairs_row_median(i: np.ndarray, j: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Per row i of the pairs (i ascending, each of the n rows holding at least one pair): the
    median of ``values[j]``, as ``np.nanmedian`` gives it (the mean of the two middle ones for an
    even count). One sort of the pairs by row, then by the values' rank."""
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n)
    keys = np.sort(i.astype(np.int64) * n + rank[j])
    k = np.bincount(i, minlength=n)
    first = np.cumsum(k) - k
    lo, hi = keys[first + (k - 1) // 2] % n, keys[first + k // 2] % n
    return (ranked[lo] + ranked[hi]) / 2


def _rule_rows(horizontal: np.ndarray):
    """(row, x0, x1) of each horizontal rule segment."""
    _, _, boxes = label_boxes(horizontal)
    return np.column_stack([(boxes[:, 1] + boxes[:, 3]) / 2, boxes[:, 0], boxes[:, 2]]).astype(np.float64)


def _rules_near(rules, cx, y0, y1, H):
    n = cx.size
    far = 1.0
    if rules.size == 0:
        return np.full(n, far), np.full(n, far), np.zeros(n)
    ry, rx0, rx1 = rules.T
    under = (rx0[None, :] <= cx[:, None]) & (rx1[None, :] >= cx[:, None])
    d_below = np.where(
        under & (ry[None, :] >= (y0[:, None] + y1[:, None]) / 2), (ry[None, :] - y1[:, None]) / H, np.inf
    )
    d_above = np.where(under & (ry[None, :] < (y0[:, None] + y1[:, None]) / 2), (y0[:, None] - ry[None, :]) / H, np.inf)
    nearest = d_below.argmin(axis=1)
    below = np.minimum(d_below.min(axis=1), far)
    above = np.minimum(d_above.min(axis=1), far)
    length = np.where(np.isfinite(d_below.min(axis=1)), (rx1 - rx0)[nearest] / H, 0.0)
    return below, above, length


# ---------------------------------------------------------------- the trees


@dataclass(frozen=True)
class Trees:
    """Gradient-boosted regression trees as flat arrays: raw score = prior + rate * sum(leaves)."""

    feature: np.ndarray  # int32 per node, -1 for a leaf
    threshold: np.ndarray  # float64 per node; go left when x <= threshold (as scikit-learn)
    left: np.ndarray  # int32 node index (global)
    right: np.ndarray
    value: np.ndarray  # float64 leaf value
    roots: np.ndarray  # int32 first node of each tree
    prior: float
    rate: float
    depth: int

    def probability(self, x: np.ndarray) -> np.ndarray:
        """A classifier's probability of the positive class (0 at very negative log-odds, no warning)."""
        with np.errstate(over="ignore"):
            return 1 / (1 + np.exp(-self.raw(x)))

    def raw(self, x: np.ndarray) -> np.ndarray:
        """The sum of the trees: a classifier's log-odds, a regressor's prediction."""
        if x.shape[0] == 0:
            return np.zeros(0)
        x = np.ascontiguousarray(x, dtype=np.float32)  # scikit-learn compares float32 features
        feature, threshold, children = self._walk
        node = np.broadcast_to(self.roots, (x.shape[0], self.roots.size)).copy()
        offsets = (np.arange(x.shape[0], dtype=np.intp) * x.shape[1])[:, None]
        flat = x.ravel()
        for _ in range(self.depth):  # a leaf is its own child: walking on leaves it where it is
            go_right = ~(flat.take(offsets + feature.take(node)) <= threshold.take(node))  # NaN goes right, as before
            node = children.take(2 * node + go_right)
        return self.prior + self.rate * self.value.take(node).sum(axis=1)

    @cached_property
    def _walk(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(feature, threshold, children) for ``raw``: a leaf reads feature 0 and has itself as both
        children; ``children[2 * node + 1]`` is the right child."""
        leaf = self.feature < 0
        own = np.arange(self.feature.size, dtype=np.intp)
        children = np.stack([np.where(leaf, own, self.left), np.where(leaf, own, self.right)], axis=1)
        return np.where(leaf, 0, self.feature).astype(np.intp), self.threshold, children.ravel().astype(np.intp)

    def save(self, path) -> None:
        np.savez_compressed(
            path,
            feature=self.feature,
            threshold=self.threshold,
            left=self.left,
            right=self.right,
            value=self.value,
            roots=self.roots,
            scalars=np.array([self.prior, self.rate, self.depth], np.float64),
        )

    @classmethod
    def load(cls, path) -> Trees:
        with np.load(path, allow_pickle=False) as z:
            prior, rate, depth = z["scalars"]
            return cls(
                z["feature"],
                z["threshold"],
                z["left"],
                z["right"],
                z["value"],
                z["roots"],
                float(prior),
                float(rate),
                int(depth),
            )

    @classmethod
    def from_sklearn(cls, model) -> Trees:
        """A fitted binary ``GradientBoostingClassifier`` or a ``GradientBoostingRegressor`` (no
        pickle kept: only its numbers)."""
        feature, threshold, left, right, value, roots = [], [], [], [], [], []
        offset, depth = 0, 0
        for est in model.estimators_[:, 0]:
            t = est.tree_
            roots.append(offset)
            feature.append(np.where(t.children_left < 0, -1, t.feature))
            threshold.append(t.threshold)
            left.append(np.where(t.children_left < 0, 0, t.children_left + offset))
            right.append(np.where(t.children_right < 0, 0, t.children_right + offset))
            value.append(t.value[:, 0, 0])
            offset += t.node_count
            depth = max(depth, t.max_depth)
        prior = float(model._raw_predict_init(np.zeros((1, model.n_features_in_), np.float32))[0, 0])
        cat = np.concatenate
        return cls(
            cat(feature).astype(np.int32),
            cat(threshold).astype(np.float64),
            cat(left).astype(np.int32),
            cat(right).astype(np.int32),
            cat(value).astype(np.float64),
            np.array(roots, np.int32),
            prior,
            float(model.learning_rate),
            int(depth),
        )


@lru_cache(maxsize=1)
def shipped_trees() -> Trees:
    return Trees.load(MODEL_PATH)


@lru_cache(maxsize=1)
def shipped_box_trees() -> Trees | None:
    """The second stage's regression trees; None where they are not shipped (rules alone)."""
    return Trees.load(BOXES_PATH) if BOXES_PATH.exists() else None


def card() -> dict:
    return json.loads(CARD_PATH.read_text())


def box_card() -> dict:
    return json.loads(BOXES_CARD_PATH.read_text())


# ---------------------------------------------------------------- finding


def find_signatures(
    image: Image.Image,
    trees: Trees | None = None,
    threshold: float = THRESHOLD,
    box_trees: Trees | None | bool = True,
) -> list[FoundSignature]:
    """Every signature on a decoded whole-cheque scan, most confident first.

    ``box_trees``: the second stage's trees (True: the shipped ones where shipped; None or
    False: the grouping rules alone)."""
    comps = components(image)
    if comps.features.shape[0] == 0:
        return []
    probability = (trees or shipped_trees()).probability(comps.features)
    if box_trees is True:
        box_trees = shipped_box_trees()
    if not box_trees:
        return group_signatures(comps, probability, threshold)
    return pick_signatures(comps, probability, box_trees)


# ---------------------------------------------------------------- the second stage: candidate boxes


@dataclass
class Candidates:
    boxes: np.ndarray  # (m, 4) x0, y0, x1, y1 at working size
    params: (
        np.ndarray
    )  # (m, 3) seed threshold, gap scale, how (0: grouped, 1: two joined, 2: across lines, 3: seeds alone, 4: grown)
    features: np.ndarray  # (m, len(BOX_FEATURES)) float32


def candidate_boxes(comps: Components, probability: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes that may hold one signature: the groupings of likely signature components at several
    seed thresholds and gaps, their words joined along a baseline, and pairs of them joined
    (across a printed line, or along a baseline). (boxes (m, 4), params (m, 3)), the most
    signature ink first, at most ``MAX_CANDIDATES``."""
    height = comps.labels.shape[0]
    boxes, params = [], []
    # Every grouping's members are among the likely components: their distances are taken once.
    pool = np.flatnonzero((probability >= GROW_THRESHOLD) & (comps.areas >= MIN_MEMBER_INK * height**2))
    if pool.size:
        x0, y0, x1, y1 = comps.boxes[pool].T
        gap_x = np.maximum(x0[:, None] - x1[None], x0[None] - x1[:, None])
        gap_y = np.maximum(y0[:, None] - y1[None], y0[None] - y1[:, None])
        ink_groups = comps.groups[pool]
        same_group = ink_groups[:, None] == ink_groups[None]
        rule = _rules_under(comps.boxes[pool], comps.rules, height)
        apart = _apart(rule[:, None], rule[None])
        areas, probs = comps.areas[pool], probability[pool]
    settings = [(t, grow) for t in CANDIDATE_THRESHOLDS for grow in (True, False)] if pool.size else []
    for threshold, grow in settings:
        seeds = probs >= threshold
        # Grown: the seeds' ink groups bring their likely members; or the seeds alone (tighter).
        members = np.flatnonzero(seeds | np.isin(ink_groups, ink_groups[seeds]) if grow else seeds)
        if members.size == 0:
            continue
        sub = np.ix_(members, members)
        for gap in CANDIDATE_GAPS:
            near = (gap_x[sub] < gap * GROUP_GAP[1] * height) & (gap_y[sub] < gap * GROUP_GAP[0] * height)
            if grow:
                near |= same_group[sub]
            for lines_apart in (True, False) if grow else (True,):
                linked = near & ~apart[sub] if lines_apart else near
                n_groups, group = _linked_groups(linked)
                gx0 = np.full(n_groups, np.inf)
                gy0 = np.full(n_groups, np.inf)
                gx1 = np.full(n_groups, -np.inf)
                gy1 = np.full(n_groups, -np.inf)
                np.minimum.at(gx0, group, x0[members])
                np.minimum.at(gy0, group, y0[members])
                np.maximum.at(gx1, group, x1[members])
                np.maximum.at(gy1, group, y1[members])
                ink = np.bincount(group, areas[members], n_groups)
                conf = np.bincount(group, areas[members] * probs[members], n_groups) / ink
                keep = (gy1 - gy0 >= MIN_GROUP_HEIGHT * height) & (ink >= MIN_GROUP_INK * height**2)
                groups = [(conf[g], ink[g], (gx0[g], gy0[g], gx1[g], gy1[g])) for g in np.flatnonzero(keep)]
                for _, _, box in groups + _merge_words(groups, comps.rules, height):
                    boxes.append(box)
                    params.append((threshold, gap, (0 if lines_apart else 2) if grow else 3))
    if not boxes:
        return np.zeros((0, 4)), np.zeros((0, 3))
    boxes, keep = np.unique(np.round(np.asarray(boxes, np.float64)), axis=0, return_index=True)
    params = np.asarray(params, np.float64)[keep]
    order = np.argsort(-_mass(comps, probability, boxes))[:MAX_CANDIDATES]
    boxes, params = boxes[order], params[order]
    # Pairs: a signature cut by its printed line (one above, one below), or words left apart.
    top = boxes[: MAX_CANDIDATES // 2]
    x0, y0, x1, y1 = top.T
    w, h = x1 - x0, y1 - y0
    x_overlap = np.minimum(x1[:, None], x1[None]) - np.maximum(x0[:, None], x0[None])
    y_overlap = np.minimum(y1[:, None], y1[None]) - np.maximum(y0[:, None], y0[None])
    stacked = (x_overlap >= 0.3 * np.minimum(w[:, None], w[None])) & (-y_overlap <= PAIR_GAP[0] * height)
    beside = (y_overlap >= 0.3 * np.minimum(h[:, None], h[None])) & (-x_overlap <= PAIR_GAP[1] * height)
    i, j = np.nonzero(np.triu(stacked | beside, 1))
    if i.size:
        joined = np.stack(
            [np.minimum(x0[i], x0[j]), np.minimum(y0[i], y0[j]), np.maximum(x1[i], x1[j]), np.maximum(y1[i], y1[j])], 1
        )
        joined_params = np.column_stack([np.maximum(params[i, 0], params[j, 0]), params[i, 1], np.ones(i.size)])
        boxes = np.concatenate([boxes, joined])
        params = np.concatenate([params, joined_params])
        boxes, keep = np.unique(boxes, axis=0, return_index=True)
        params = params[keep]
        order = np.argsort(-_mass(comps, probability, boxes))[:MAX_CANDIDATES]
        boxes, params = boxes[order], params[order]
    if GROWN_CANDIDATES:
        grown, grown_params = _grown(comps, probability, boxes[:GROWN_CANDIDATES], params[:GROWN_CANDIDATES])
        if len(grown):
            boxes = np.concatenate([boxes, grown])
            params = np.concatenate([params, grown_params])
            boxes, keep = np.unique(boxes, axis=0, return_index=True)
            params = params[keep]
            order = np.argsort(-_mass(comps, probability, boxes))
            boxes, params = boxes[order], params[order]
    return boxes, params


def _grown(comps: Components, probability: np.ndarray, boxes: np.ndarray, params: np.ndarray):
    """The best candidates grown over the nearby pieces of ink the first stage finds likely,
    however small (``GROW_PIECES``: a thin stroke of a bilevel or dithered scan falls apart into
    specks that the groupings leave out): a piece whose box comes within ``GROW_MARGIN`` of the
    candidate joins it, and the grown box grows again (``GROW_STEPS`` times). Not over a piece on
    another printed rule than the candidate's. (boxes, params: how 4)."""
    height = comps.labels.shape[0]
    out, out_params = [], []
    for level in GROW_PIECES:
        pieces = np.flatnonzero((probability >= level) & (comps.areas >= 2))
        if pieces.size == 0 or len(boxes) == 0:
            continue
        px0, py0, px1, py1 = comps.boxes[pieces].T
        piece_rule = _rules_under(comps.boxes[pieces], comps.rules, height)
        box_rule = _rules_under(boxes, comps.rules, height)
        mx, my = GROW_MARGIN[1] * height, GROW_MARGIN[0] * height
        current = boxes.astype(np.float64).copy()
        for _ in range(GROW_STEPS):
            x0, y0, x1, y1 = (current[:, k, None] for k in range(4))
            near = (px0[None] < x1 + mx) & (px1[None] > x0 - mx) & (py0[None] < y1 + my) & (py1[None] > y0 - my)
            near &= ~_apart(box_rule[:, None], piece_rule[None])
            grown = current.copy()
            grown[:, 0] = np.minimum(current[:, 0], np.where(near, px0[None], np.inf).min(axis=1))
            grown[:, 1] = np.minimum(current[:, 1], np.where(near, py0[None], np.inf).min(axis=1))
            grown[:, 2] = np.maximum(current[:, 2], np.where(near, px1[None], -np.inf).max(axis=1))
            grown[:, 3] = np.maximum(current[:, 3], np.where(near, py1[None], -np.inf).max(axis=1))
            if np.array_equal(grown, current):
                break
            current = grown
        changed = np.any(current != boxes, axis=1)
        out.append(current[changed])
        out_params.append(
            np.column_stack([np.full(changed.sum(), level), params[changed, 1], np.full(changed.sum(), 4)])
        )
    if not out:
        return np.zeros((0, 4)), np.zeros((0, 3))
    return np.round(np.concatenate(out)), np.concatenate(out_params)


def _linked_groups(near: np.ndarray) -> tuple[int, np.ndarray]:
    """(count, group of each) of a small symmetric adjacency matrix: each takes the smallest
    index it is linked to until nothing changes (scipy's graph call costs more to set up on
    the few dozen boxes here)."""
    label = np.arange(len(near))
    while True:
        new = np.minimum(np.where(near, label[None, :], len(near)).min(axis=1), label)
        new = new[new]
        if np.array_equal(new, label):
            break
        label = new
    _, group = np.unique(label, return_inverse=True)
    return int(group.max()) + 1 if group.size else 0, group


def _inside(comps: Components, boxes: np.ndarray) -> np.ndarray:
    """(m, n): component n's centre lies in box m."""
    cx = (comps.boxes[:, 0] + comps.boxes[:, 2]) / 2
    cy = (comps.boxes[:, 1] + comps.boxes[:, 3]) / 2
    x0, y0, x1, y1 = (boxes[:, k, None] for k in range(4))
    return (cx[None] >= x0) & (cx[None] <= x1) & (cy[None] >= y0) & (cy[None] <= y1)


def _mass(comps: Components, probability: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    return _inside(comps, boxes).astype(np.float64) @ (probability * comps.areas)


def box_features(comps: Components, probability: np.ndarray, boxes: np.ndarray, params: np.ndarray) -> np.ndarray:
    """(m, len(BOX_FEATURES)) float32: what each candidate box holds and what lies around it."""
    m = boxes.shape[0]
    if m == 0:
        return np.zeros((0, len(BOX_FEATURES)), np.float32)
    H = float(comps.labels.shape[0])
    W = float(comps.labels.shape[1])
    areas = comps.areas
    mass = probability * areas
    likely = probability >= THRESHOLD
    unlikely = probability < GROW_THRESHOLD
    inside = _inside(comps, boxes).astype(np.float64)
    x0, y0, x1, y1 = boxes.T
    w, h = np.maximum(x1 - x0, 1), np.maximum(y1 - y0, 1)
    ink = inside @ areas
    sig = inside @ mass
    page_sig = max(float(mass.sum()), 1e-6)

    def around(dx, dy):  # signature ink with its centre in the box grown by (dx, dy), outside the box
        grown = np.stack([x0 - dx, y0 - dy, x1 + dx, y1 + dy], 1)
        return (_inside(comps, grown).astype(np.float64) @ mass - sig) / np.maximum(sig, 1e-6)

    comp_h = comps.boxes[:, 3] - comps.boxes[:, 1]
    weights = inside * mass[None]
    mean_h = (weights @ comp_h) / np.maximum(sig, 1e-6)
    spread = np.sqrt(np.maximum((weights @ comp_h**2) / np.maximum(sig, 1e-6) - mean_h**2, 0)) / np.maximum(mean_h, 1)
    rules_across = np.zeros(m)
    through_middle = np.zeros(m)
    if comps.rules.size:
        ry, rx0, rx1 = comps.rules.T
        spans = (np.minimum(rx1[None], x1[:, None]) - np.maximum(rx0[None], x0[:, None])) >= 0.3 * w[:, None]
        rules_across = (spans & (ry[None] > y0[:, None]) & (ry[None] < y1[:, None])).sum(axis=1)
        middle = (ry[None] > (y0 + h / 3)[:, None]) & (ry[None] < (y1 - h / 3)[:, None])
        through_middle = (spans & middle).any(axis=1)
    below, _, _ = _rules_near(comps.rules, (x0 + x1) / 2, y0, y1, H)
    rank = np.argsort(np.argsort(-sig))
    cols = [
        x0 / W,
        y0 / H,
        x1 / W,
        y1 / H,
        w / H,
        h / H,
        np.log(w / h),
        inside.sum(axis=1),
        inside @ likely,
        ink / H**2,
        ink / (w * h),
        sig / H**2,
        sig / np.maximum(ink, 1e-6),
        (inside @ (areas * unlikely)) / np.maximum(ink, 1e-6),
        np.where(inside > 0, probability[None], 0).max(axis=1),
        (inside @ (mass * likely)) / np.maximum(inside @ (areas * likely), 1e-6),
        sig / page_sig,
        around(0.05 * H, 0.05 * H),
        around(0.2 * H, 0.0),
        around(0.0, 0.12 * H),
        spread,
        mean_h / h,
        rules_across,
        through_middle,
        below,
        params[:, 0],
        params[:, 1],
        params[:, 2],
        rank,
        sig / max(float(sig.max()), 1e-6),
        np.full(m, comps.features[0, FEATURES.index("page_ink")]),
        np.full(m, comps.features[0, FEATURES.index("bilevel")]),
        np.full(m, comps.features[0, FEATURES.index("dithered")]),
        *_widest_gaps(comps, probability, inside > 0, h),
    ]
    return np.stack(cols, axis=1).astype(np.float32)


def _widest_gaps(comps: Components, probability: np.ndarray, inside: np.ndarray, box_h: np.ndarray):
    """Per candidate box: the widest run of columns that none of its likely members (the grouping
    pool: probability >= ``GROW_THRESHOLD``, not a speck) spans, over the box's height; the
    narrower side of that gap's width over the box's height; and the lighter side's signature
    ink over the heavier side's. Two signatures side by side on one line leave a clear gap
    between two signature-sized sides; a signature's words leave a narrower one, or a small side."""
    height = comps.labels.shape[0]
    pool = (probability >= GROW_THRESHOLD) & (comps.areas >= MIN_MEMBER_INK * height**2)
    mass = probability * comps.areas
    m = inside.shape[0]
    gap, narrow, balance = np.zeros(m), np.zeros(m), np.zeros(m)
    for k in range(m):
        members = np.flatnonzero(inside[k] & pool)
        if members.size < 2:
            continue
        x0, x1 = comps.boxes[members, 0], comps.boxes[members, 2]
        order = np.argsort(x0, kind="stable")
        x0, x1, weight = x0[order], x1[order], mass[members][order]
        reach = np.maximum.accumulate(x1)
        gaps = x0[1:] - reach[:-1]
        i = int(np.argmax(gaps))
        if gaps[i] <= 0:
            continue
        gap[k] = gaps[i]
        narrow[k] = min(reach[i] - x0[0], reach[-1] - x0[i + 1])
        left, right = weight[: i + 1].sum(), weight[i + 1 :].sum()
        balance[k] = min(left, right) / max(left, right, 1e-6)
    return gap / box_h, narrow / box_h, balance


def pick_signatures(comps: Components, probability: np.ndarray, box_trees: Trees) -> list[FoundSignature]:
    """The best candidates, most likely first, none overlapping another: each one's confidence is
    its predicted IoU with a signature (at least ``MIN_CONFIDENCE``)."""
    boxes, params = candidate_boxes(comps, probability)
    if boxes.shape[0] == 0:
        return []
    score = np.clip(box_trees.raw(box_features(comps, probability, boxes, params)), 0, 1)
    split = _splits_in_two(boxes, score)
    kept: list[np.ndarray] = []
    found = []
    for k in np.argsort(-score, kind="stable"):
        if score[k] < MIN_CONFIDENCE:
            break
        if split[k]:
            continue
        box = boxes[k]
        if any(_overlap(box, other) > MAX_OVERLAP for other in kept):
            continue
        kept.append(box)
        found.append(FoundSignature(_to_scan(box, comps), round(float(score[k]), 4)))
    return found


def _splits_in_two(boxes: np.ndarray, score: np.ndarray) -> np.ndarray:
    """(m,) bool: the box holds two other candidates side by side, each scored at least
    ``SPLIT_MIN_SCORE``, with a clear gap between them (at least ``SPLIT_GAP`` times the taller
    one's height): two signatures on one line, not one signature. Such a box is never kept, so
    the two are (two signers of a joint or company account, never one box between them)."""
    m = boxes.shape[0]
    out = np.zeros(m, bool)
    good = np.flatnonzero(score >= SPLIT_MIN_SCORE)
    if good.size < 2 or SPLIT_GAP is None:
        return out
    g = boxes[good]
    x0, y0, x1, y1 = g.T
    h = y1 - y0
    gap = x0[None, :] - x1[:, None]  # b right of a: b.x0 - a.x1
    y_overlap = np.minimum(y1[:, None], y1[None]) - np.maximum(y0[:, None], y0[None])
    pair = (gap >= SPLIT_GAP * np.maximum(h[:, None], h[None])) & (y_overlap > 0.3 * np.minimum(h[:, None], h[None]))
    a, b = np.nonzero(pair)
    if a.size == 0:
        return out
    bx0, by0, bx1, by1 = (boxes[:, k, None] for k in range(4))
    tol = 1.0  # working pixels
    for i, j in zip(good[a], good[b], strict=True):
        ux0, uy0 = min(boxes[i, 0], boxes[j, 0]), min(boxes[i, 1], boxes[j, 1])
        ux1, uy1 = max(boxes[i, 2], boxes[j, 2]), max(boxes[i, 3], boxes[j, 3])
        holds = (bx0 <= ux0 + tol) & (by0 <= uy0 + tol) & (bx1 >= ux1 - tol) & (by1 >= uy1 - tol)
        # ... and not much more: the box is (about) the two together
        holds &= (bx1 - bx0) * (by1 - by0) <= 1.5 * (ux1 - ux0) * (uy1 - uy0)
        out |= holds[:, 0]
    return out


def _overlap(a, b) -> float:
    """Intersection of two (x0, y0, x1, y1) boxes over the smaller one's area."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(iw * ih / max(smaller, 1e-6))


def box_targets(comps: Components, boxes: np.ndarray, truth: list) -> np.ndarray:
    """Each candidate's best IoU with a written signature's box (scan pixels, as the benchmark counts)."""
    from .chequegen import iou

    out = np.zeros(boxes.shape[0])
    for k, box in enumerate(boxes):
        scan = _to_scan(box, comps)
        out[k] = max((iou(scan, t) for t in truth), default=0.0)
    return out


def group_signatures(comps: Components, probability: np.ndarray, threshold: float = THRESHOLD) -> list[FoundSignature]:
    """Signatures from component probabilities, by rules alone (no second stage).

    A signature is seeded by components at ``threshold`` and above. The ink group a seed lies
    in (strokes joined by a letter gap) brings its likely members along (``GROW_THRESHOLD``:
    faint or cut pieces of the same signature, not the printed label under it), and seeded
    groups closer than ``GROUP_GAP`` are one signature (its words)."""
    height = comps.labels.shape[0]
    found = _merge_words(_groups(comps, probability, threshold), comps.rules, height)
    found.sort(key=lambda f: (-f[0], -f[1]))
    return [FoundSignature(_to_scan(box, comps), round(conf, 4)) for conf, _, box in found]


def _groups(
    comps: Components, probability: np.ndarray, threshold: float, gap_scale: float = 1.0, lines_apart: bool = True
) -> list:
    """[(confidence, ink, (x0, y0, x1, y1))] of the groups of likely signature components, at
    working size: seeds at ``threshold``, grown through their ink group, joined within
    ``gap_scale`` times ``GROUP_GAP`` unless they stand on two different printed rules."""
    height = comps.labels.shape[0]
    seeds = probability >= threshold
    if not seeds.any():
        return []
    seeded_groups = np.unique(comps.groups[seeds])
    chosen = np.flatnonzero(
        (seeds | (np.isin(comps.groups, seeded_groups) & (probability >= GROW_THRESHOLD)))
        & (comps.areas >= MIN_MEMBER_INK * height**2)
    )
    if chosen.size == 0:
        return []
    boxes = comps.boxes[chosen]
    gap_y, gap_x = gap_scale * GROUP_GAP[0] * height, gap_scale * GROUP_GAP[1] * height
    x0, y0, x1, y1 = boxes.T
    near = (x0[:, None] < x1[None, :] + gap_x) & (x1[:, None] > x0[None, :] - gap_x)
    near &= (y0[:, None] < y1[None, :] + gap_y) & (y1[:, None] > y0[None, :] - gap_y)
    near |= comps.groups[chosen][:, None] == comps.groups[chosen][None, :]
    rule = _rules_under(boxes, comps.rules, height)
    if lines_apart:  # two signature lines: a stamp or a gap does not join them
        near &= ~_apart(rule[:, None], rule[None, :])
    n_groups, group = connected_components(csr_matrix(near), directed=False)
    found = []
    areas = comps.areas[chosen]
    probs = probability[chosen]
    for g in range(n_groups):
        members = group == g
        gx0, gy0 = x0[members].min(), y0[members].min()
        gx1, gy1 = x1[members].max(), y1[members].max()
        ink = areas[members].sum()
        if gy1 - gy0 < MIN_GROUP_HEIGHT * height or ink < MIN_GROUP_INK * height**2:
            continue
        confidence = float((probs[members] * areas[members]).sum() / ink)
        found.append((confidence, ink, (gx0, gy0, gx1, gy1)))
    return found


def _rules_under(boxes: np.ndarray, rules: np.ndarray, height: int) -> np.ndarray:
    """For each box (x0, y0, x1, y1), the printed rule it stands on (the nearest one from its top
    down to a fifth of the height below it), -1 when none: two signatures on their own lines stay apart however close."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if rules.size == 0 or boxes.size == 0:
        return np.full(len(boxes), -1)
    x0, y0, x1, y1 = boxes.T
    cx = (x0 + x1) / 2
    ry, rx0, rx1 = rules.T
    fits = (rx0[None] <= cx[:, None]) & (rx1[None] >= cx[:, None])
    # At or below the top: the half of a signature that hangs below its line still stands on that line.
    fits &= (ry[None] >= (y0 - 0.01 * height)[:, None]) & (ry[None] <= (y1 + 0.2 * height)[:, None])
    nearest = np.where(fits, ry[None], np.inf).argmin(axis=1)
    return np.where(fits.any(axis=1), nearest, -1)


def _apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rule indices on two different printed rules (neither -1)."""
    return (a >= 0) & (b >= 0) & (a != b)


def _merge_words(found: list, rules: np.ndarray, height: int) -> list:
    """Join the words of one signature (a given name and a surname) that the letter-gap grouping
    left apart: on one baseline (most of the smaller one's rows shared), at most ``WORD_GAP``
    apart, and not standing on two different printed rules."""
    found = list(found)
    merged = True
    while merged:
        merged = False
        for i in range(len(found)):
            for j in range(i + 1, len(found)):
                (ci, ai, bi), (cj, aj, bj) = found[i], found[j]
                overlap = min(bi[3], bj[3]) - max(bi[1], bj[1])
                gap = max(bi[0], bj[0]) - min(bi[2], bj[2])
                if overlap < 0.5 * min(bi[3] - bi[1], bj[3] - bj[1]) or gap > WORD_GAP * height:
                    continue
                if _apart(*_rules_under([bi, bj], rules, height)):
                    continue
                box = (min(bi[0], bj[0]), min(bi[1], bj[1]), max(bi[2], bj[2]), max(bi[3], bj[3]))
                found[i] = ((ci * ai + cj * aj) / (ai + aj), ai + aj, box)
                del found[j]
                merged = True
                break
            if merged:
                break
    return found


def _to_scan(box, comps: Components) -> tuple[int, int, int, int]:
    """A box at working size (deskewed) -> (x, y, width, height) in the scan's pixels."""
    scale, (width, height) = comps.scale, comps.size
    x0, y0, x1, y1 = box
    if comps.slope:  # the deskewed box's corners back where the scan has them
        shifts = _shifts(comps.slope, comps.labels.shape[1] + 1)
        ends = shifts[[int(np.clip(x0, 0, len(shifts) - 1)), int(np.clip(x1, 0, len(shifts) - 1))]]
        y0, y1 = y0 + ends.min(), y1 + ends.max()
    x0, y0 = max(0, int(math.floor(x0 * scale))), max(0, int(math.floor(y0 * scale)))
    x1, y1 = min(width, int(math.ceil(x1 * scale))), min(height, int(math.ceil(y1 * scale)))
    return x0, y0, max(1, x1 - x0), max(1, y1 - y0)


# ---------------------------------------------------------------- training data


def component_targets(comps: Components, classes: np.ndarray) -> np.ndarray:
    """1 where most of a component's pixels are signature ink in the generator's class map."""
    from .chequegen import SIGNATURE

    signature = Image.fromarray((classes >= SIGNATURE).astype(np.uint8) * 255)
    h, w = comps.labels.shape
    small = deskew(np.asarray(signature.resize((w, h), Image.Resampling.BOX)) >= 64, comps.slope, False)
    n = comps.features.shape[0]
    flat = comps.labels.ravel()
    idx = flat > 0
    hits = np.bincount(flat[idx] - 1, small.ravel()[idx], n)
    return (hits >= 0.5 * comps.areas).astype(np.int8)
