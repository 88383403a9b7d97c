"""Every signature on a whole cheque, found by a learned classifier of ink components.

Layout rules alone (``cheque``: the largest ink in the lower right) failed on a real archive
cheque, so this module learns what a signature's ink looks like beside print, rules,
security backgrounds, the code line and the other handwritten fields:

1. The scan is reduced to ``WORK_HEIGHT`` rows by area averaging (which also descreens a
   dithered bilevel scan), thresholded between the paper and the darkest ink, and the long
   straight runs (printed rules, box edges) are set apart.
2. Each remaining connected component of ink gets features: its size, fill, stroke width,
   elongation and darkness; where it is; what lies around it (how many neighbours of the
   same height sit on its baseline, as printed text does; the ink density around it; the
   group of ink it belongs to once close strokes are joined); and the nearest rule below.
3. Gradient-boosted trees (scikit-learn, trained on generated cheques of the training
   layouts and writers: ``python -m sigverify train-signature-finder``) give each component
   a probability of being signature ink. The trees ship as plain arrays
   (``signature_finder.npz`` and its card ``signature_finder.json``), read without pickle.
4. Signature components close to one another are grouped; each group is a ``FoundSignature``
   with its box in the scan's pixels and a confidence (the ink-weighted mean probability).

Django-free; the service's ``signature-region`` endpoint returns every group found.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

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
MAX_COMPONENTS = 1000  # beyond, the smallest specks are dropped: a dithered background (row features cost n squared)
LOW_CONFIDENCE = 0.5  # a signature found with less confidence may be other ink: shown, never judged alone
MODEL_PATH = Path(__file__).with_name("signature_finder.npz")
CARD_PATH = Path(__file__).with_name("signature_finder.json")

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


# ---------------------------------------------------------------- ink at working size


def working_grey(image: Image.Image) -> tuple[np.ndarray, float, bool]:
    """(grey uint8 at WORK_HEIGHT rows, scan pixels per working pixel, the scan is bilevel)."""
    bilevel = image.mode == "1"
    if image.mode not in ("L", "1", "RGB"):
        image = Image.fromarray(to_greyscale(image).astype(np.uint8))
    grey = image.convert("L")
    scale = grey.height / WORK_HEIGHT
    if scale > 1:  # area average: a dithered grey turns back into grey
        width = max(1, int(round(grey.width / scale)))
        grey = grey.resize((width, WORK_HEIGHT), Image.Resampling.BOX)
    else:
        scale = 1.0
    array = np.asarray(grey, dtype=np.uint8)
    if bilevel and scale > 1:  # the dots of a dithered pattern survive a small reduction
        array = ndimage.uniform_filter(array, 2)
    elif not bilevel:
        array = median3(array)
    return array, float(scale), bilevel


def _percentile(hist_cumsum: np.ndarray, q: float) -> float:
    """The q-th percentile of a uint8 image from its cumulative histogram (no sort)."""
    return float(np.searchsorted(hist_cumsum, q / 100 * hist_cumsum[-1]))


def ink_mask(grey: np.ndarray) -> np.ndarray:
    """Ink: darker than halfway between the paper (a high percentile) and the darkest strokes."""
    if grey.size == 0:
        return np.zeros(grey.shape, bool)
    cumulative = np.cumsum(np.bincount(grey.ravel(), minlength=256))
    paper, darkest = _percentile(cumulative, 75), _percentile(cumulative, 0.3)
    if paper - darkest < 24:
        return np.zeros(grey.shape, bool)
    return grey < paper - INK_LEVEL * (paper - darkest)


def _runs(mask: np.ndarray, length: int, axis: int) -> np.ndarray:
    """Pixels on a straight run of at least ``length`` along ``axis`` (gaps of 2 bridged).

    Only the rows (or columns) holding that much ink can hold such a run: the 1-D closing and
    opening run on those alone."""
    lines = np.flatnonzero(mask.sum(axis=axis) >= 0.8 * length)
    out = np.zeros_like(mask)
    if lines.size == 0:
        return out
    values = (mask[lines] if axis == 1 else mask[:, lines]).view(np.uint8)
    bridged = ndimage.minimum_filter1d(ndimage.maximum_filter1d(values, 3, axis=axis), 3, axis=axis)
    eroded = ndimage.minimum_filter1d(bridged, length, axis=axis, mode="constant", cval=0)
    runs = ndimage.maximum_filter1d(eroded, length, axis=axis, mode="constant", cval=0).astype(bool)
    if axis == 1:
        out[lines] = runs & mask[lines]
    else:
        out[:, lines] = runs & mask[:, lines]
    return out


def components(image: Image.Image) -> Components:
    grey, scale, bilevel = working_grey(image)
    ink = ink_mask(grey)
    height, width = ink.shape
    horizontal = _runs(ink, max(8, int(RULE_MIN_LENGTH * height)), axis=1)
    vertical = _runs(ink, max(8, int(EDGE_MIN_LENGTH * height)), axis=0)
    rules = horizontal | vertical
    strokes = ink & ~rules
    labels, count = ndimage.label(strokes, structure=np.ones((3, 3), bool))
    if count > MAX_COMPONENTS:  # keep the largest; the rest is speckle
        sizes = np.bincount(labels.ravel(), minlength=count + 1)
        sizes[0] = 0
        keep = np.zeros(count + 1, bool)
        keep[np.argsort(sizes)[-MAX_COMPONENTS:]] = True
        keep[0] = False
        labels, count = ndimage.label(keep[labels], structure=np.ones((3, 3), bool))
        strokes = labels > 0
    features, boxes, areas, groups = _features(grey, labels, count, strokes, horizontal, bilevel)
    return Components(labels, boxes, areas, features, groups, scale, image.size, _rule_rows(horizontal))


def _features(grey, labels, count, strokes, horizontal, bilevel):
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
    slices = ndimage.find_objects(labels)
    boxes = np.array([(s[1].start, s[0].start, s[1].stop, s[0].stop) for s in slices], np.float64)
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

    # Row context: text sits on a baseline with peers of the same height.
    cy = (y0 + y1) / 2
    same_row = (np.abs(y1[:, None] - y1[None, :]) < 0.25 * np.maximum(h[:, None], 2)) & (
        np.abs(x0[:, None] - x0[None, :]) < 6 * np.maximum(h[:, None], 4)
    )
    np.fill_diagonal(same_row, False)
    similar = np.abs(h[:, None] - h[None, :]) < 0.2 * np.maximum(h[:, None], 2)
    row_peers = same_row.sum(axis=1)
    row_same_height = (same_row & similar).sum(axis=1)
    band = (np.abs(cy[:, None] - cy[None, :]) < 0.06 * H) & (np.abs(x0[:, None] - x0[None, :]) < 0.4 * H)
    row_neighbours = band.sum(axis=1) - 1
    h_band = np.where(band, h[None, :], np.nan)
    row_median = np.nanmedian(h_band, axis=1)

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
    joined = ndimage.maximum_filter1d(strokes.view(np.uint8), max(3, int(JOIN[0] * H)), axis=0)
    joined = ndimage.maximum_filter1d(joined, max(3, int(JOIN[1] * H)), axis=1)
    groups, n_groups = ndimage.label(joined)
    member = np.asarray(ndimage.maximum(groups, labels, np.arange(1, n + 1)), np.int64) - 1
    gslices = ndimage.find_objects(groups)
    gboxes = np.array([(s[1].start, s[0].start, s[1].stop, s[0].stop) for s in gslices], np.float64)
    gink = np.bincount(member, area, n_groups)
    gcount = np.bincount(member, minlength=n_groups)
    gh_mean = np.bincount(member, h, n_groups) / np.maximum(gcount, 1)
    gh_sq = np.bincount(member, h * h, n_groups) / np.maximum(gcount, 1)
    gspread = np.sqrt(np.maximum(gh_sq - gh_mean**2, 0)) / np.maximum(gh_mean, 1)
    gb = gboxes[member]

    # The nearest horizontal rule below and above, under the component's middle.
    rule_rows = _rule_rows(horizontal)
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
    ]
    return np.stack(cols, axis=1).astype(np.float32), boxes, area, member


def _rule_rows(horizontal: np.ndarray):
    """(row, x0, x1) of each horizontal rule segment."""
    labels, n = ndimage.label(horizontal, structure=np.ones((3, 3), bool))
    out = []
    for s in ndimage.find_objects(labels):
        out.append(((s[0].start + s[0].stop) / 2, s[1].start, s[1].stop))
    return np.array(out, np.float64).reshape(-1, 3)


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
        if x.shape[0] == 0:
            return np.zeros(0)
        x = x.astype(np.float32)  # scikit-learn compares float32 features
        node = np.broadcast_to(self.roots, (x.shape[0], self.roots.size)).copy()
        rows = np.arange(x.shape[0])[:, None]
        for _ in range(self.depth):
            feat = self.feature[node]
            leaf = feat < 0
            go_left = x[rows, np.maximum(feat, 0)] <= self.threshold[node]
            node = np.where(leaf, node, np.where(go_left, self.left[node], self.right[node]))
        raw = self.prior + self.rate * self.value[node].sum(axis=1)
        return 1 / (1 + np.exp(-raw))

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
        """A fitted binary ``GradientBoostingClassifier`` (no pickle kept: only its numbers)."""
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


def card() -> dict:
    return json.loads(CARD_PATH.read_text())


# ---------------------------------------------------------------- finding


def find_signatures(
    image: Image.Image, trees: Trees | None = None, threshold: float = THRESHOLD
) -> list[FoundSignature]:
    """Every signature on a decoded whole-cheque scan, most confident first."""
    comps = components(image)
    if comps.features.shape[0] == 0:
        return []
    probability = (trees or shipped_trees()).probability(comps.features)
    return group_signatures(comps, probability, threshold)


def group_signatures(comps: Components, probability: np.ndarray, threshold: float = THRESHOLD) -> list[FoundSignature]:
    """Signatures from component probabilities.

    A signature is seeded by components at ``threshold`` and above. The ink group a seed lies
    in (strokes joined by a letter gap) brings its likely members along (``GROW_THRESHOLD``:
    faint or cut pieces of the same signature, not the printed label under it), and seeded
    groups closer than ``GROUP_GAP`` are one signature (its words)."""
    height = comps.labels.shape[0]
    if not (probability >= threshold).any():
        return []
    seeded_groups = np.unique(comps.groups[probability >= threshold])
    chosen = np.flatnonzero(
        ((probability >= threshold) | (np.isin(comps.groups, seeded_groups) & (probability >= GROW_THRESHOLD)))
        & (comps.areas >= MIN_MEMBER_INK * height**2)
    )
    if chosen.size == 0:
        return []
    boxes = comps.boxes[chosen]
    gap_y, gap_x = GROUP_GAP[0] * height, GROUP_GAP[1] * height
    x0, y0, x1, y1 = boxes.T
    near = (x0[:, None] < x1[None, :] + gap_x) & (x1[:, None] > x0[None, :] - gap_x)
    near &= (y0[:, None] < y1[None, :] + gap_y) & (y1[:, None] > y0[None, :] - gap_y)
    near |= comps.groups[chosen][:, None] == comps.groups[chosen][None, :]
    rule = _rules_under(boxes, comps.rules, height)
    near &= ~_apart(rule[:, None], rule[None, :])  # two signature lines: a stamp or a gap does not join them
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
    found = _merge_words(found, comps.rules, height)
    found.sort(key=lambda f: (-f[0], -f[1]))
    return [FoundSignature(_to_scan(box, comps.scale, comps.size), round(conf, 4)) for conf, _, box in found]


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


def _to_scan(box, scale: float, size) -> tuple[int, int, int, int]:
    width, height = size
    x0, y0, x1, y1 = box
    x0, y0 = max(0, int(math.floor(x0 * scale))), max(0, int(math.floor(y0 * scale)))
    x1, y1 = min(width, int(math.ceil(x1 * scale))), min(height, int(math.ceil(y1 * scale)))
    return x0, y0, max(1, x1 - x0), max(1, y1 - y0)


# ---------------------------------------------------------------- training data


def component_targets(comps: Components, classes: np.ndarray) -> np.ndarray:
    """1 where most of a component's pixels are signature ink in the generator's class map."""
    from .chequegen import SIGNATURE

    signature = Image.fromarray((classes >= SIGNATURE).astype(np.uint8) * 255)
    h, w = comps.labels.shape
    small = np.asarray(signature.resize((w, h), Image.Resampling.BOX)) >= 64
    n = comps.features.shape[0]
    flat = comps.labels.ravel()
    idx = flat > 0
    hits = np.bincount(flat[idx] - 1, small.ravel()[idx], n)
    return (hits >= 0.5 * comps.areas).astype(np.int8)
