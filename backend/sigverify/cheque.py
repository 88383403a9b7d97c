"""Where the signature is on a whole-cheque scan: a proposal the clerk then adjusts.

The box is the most confident signature of the learned finder (``signature_finder``: a
classifier of ink components trained on generated cheques of many layouts), grown by a pixel
or two and kept above the code line. Where the finder sees no signature, the older layout
rule decides (``heuristic_signature_region``).

The layout rule: cheques put the signature in the lower right, above the code line (the MICR
band at the bottom, which the cheque standards keep clear of anything else). Its proposal is
the largest cluster of ink in that part of the scan: ink is found as in ``preprocess``
(median, Otsu), printed rules and box edges (long straight runs) are removed, the code line is
found as the lowest wide, short band of ink, strokes are joined into clusters by a dilation
about the size of the gap between letters, and the cluster with the most ink (with its close
neighbours, the other words of the signature) gives the box. It stays the source of
``code_line_top``. On a real archive cheque it boxed the amount and the code line instead of
the signature (0 of 550), which is why the learned finder now comes first.

Everything is measured in fractions of the scan, so 200 dpi bilevel archive images and
600 dpi colour scans give the same answer. Django-free; used by the service's
``signature-region`` endpoint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .morphology import label_boxes, max1d, min1d
from .preprocess import MIN_CONTRAST, median3, otsu_threshold, to_greyscale_uint8
from .signature_finder import WORK_HEIGHT, FoundSignature, find_signatures

WORK_SIZE = 1600  # longest side analysed; larger scans are reduced first (speed, same fractions)
SEARCH_LEFT = 0.45  # the signature lies right of this fraction of the width ...
SEARCH_TOP = 0.42  # ... and below this fraction of the height (under the amount box)
CODE_LINE_ZONE = 0.75  # the code line starts below this fraction of the height
CODE_LINE_MAX_HEIGHT = 0.12
RULE_MIN_LENGTH = 0.12  # a straight horizontal run this long (of the width) is a printed rule
EDGE_MIN_LENGTH = 0.2  # a straight vertical run this long (of the height) is a box edge or border
JOIN = (0.035, 0.025)  # dilation (of height, of width) that joins the strokes of one word
MERGE_GAP = 0.07  # neighbouring clusters closer than this (of the width) join the signature
MERGE_MIN_SHARE = 0.05  # ... when they hold at least this share of its ink
MARGIN = 0.05  # of the box size, added on every side
DEFAULT_BOX = (0.55, 0.5, 0.4, 0.3)  # x, y, width, height fractions when no ink is found


@dataclass(frozen=True)
class SignatureRegion:
    """A proposed signature box in the scan's pixels (x, y, width, height)."""

    box: tuple[int, int, int, int]
    found: bool  # False: no ink in the search area, the box is the usual place
    code_line_top: int | None  # first row of the detected code line, None when there is none


def propose_signature_box(image: Image.Image) -> tuple[int, int, int, int]:
    """(x, y, width, height) of the likely signature on a decoded cheque scan."""
    return find_signature_region(image).box


def find_signature_region(image: Image.Image, found: list[FoundSignature] | None = None) -> SignatureRegion:
    """The learned finder's most confident signature; the layout rule where it finds none.
    ``found``: ``find_signatures(image)`` where the caller has it already (it is not run twice).

    The rule's box is never joined to the finder's: on generated cheques of held-out layouts it
    took in the printed fields beside the signature, and those crops were decided forgery for
    6-22% of genuine signatures, against 2.5-12.5% for the finder's box alone (issue 19)."""
    rule = heuristic_signature_region(image)
    found = find_signatures(image) if found is None else found
    if not found:
        return rule
    x, y, w, h = found[0].box
    grow = math.ceil(image.height / WORK_HEIGHT) + 1  # the finder's working pixel, rounded out
    x0, y0, x1, y1 = x - grow, y - grow, x + w + grow, y + h + grow
    bottom = image.height if rule.code_line_top is None else max(y + h, rule.code_line_top)
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(image.width, x1), min(bottom, y1)
    return SignatureRegion((x0, y0, x1 - x0, y1 - y0), True, rule.code_line_top)


def heuristic_signature_region(image: Image.Image) -> SignatureRegion:
    """The layout rule alone: the largest ink cluster in the lower right, above the code line."""
    width, height = image.size
    all_ink, scale = _ink_mask(image)
    work_h, work_w = all_ink.shape
    ink = _without_rules(all_ink)
    rules = all_ink & ~ink
    code_top = _code_line_top(ink)
    bottom = code_top if code_top is not None else work_h

    window = np.zeros_like(ink)
    top, left = int(SEARCH_TOP * work_h), int(SEARCH_LEFT * work_w)
    window[top:bottom, left:] = True
    ink &= window
    box = _largest_cluster_box(ink)

    code_line_top = None if code_top is None else min(height, int(round(code_top * scale)))
    if box is None:
        return SignatureRegion(_default_box(width, height, code_line_top), False, code_line_top)
    full = _to_full(_with_margin(box, rules, bottom), scale, width, height, code_line_top)
    return SignatureRegion(full, True, code_line_top)


def _with_margin(box, rules: np.ndarray, bottom: int) -> tuple[float, float, float, float]:
    """The ink box grown by the margin, except past a printed rule or box edge next to the
    signature (the signature line under it): in the crop it would read as a stroke."""
    height, width = rules.shape
    x0, y0, x1, y1 = (int(v) for v in box)
    margin = int(MARGIN * max(x1 - x0, y1 - y0)) + 2
    top, low = max(0, y0 - margin), min(bottom, height, y1 + margin)
    left, right = max(0, x0 - margin), min(width, x1 + margin)
    rows = rules[:, left:right].sum(axis=1) >= 0.3 * (x1 - x0)  # a rule across the signature's width
    cols = rules[top:low].sum(axis=0) >= 0.3 * (y1 - y0)  # a vertical edge along its height
    above = np.flatnonzero(rows[top:y0])
    below = np.flatnonzero(rows[y1:low])
    before = np.flatnonzero(cols[left:x0])
    after = np.flatnonzero(cols[x1:right])
    top = top + above[-1] + 1 if above.size else top
    low = y1 + below[0] if below.size else low
    left = left + before[-1] + 1 if before.size else left
    right = x1 + after[0] if after.size else right
    return float(left), float(top), float(right), float(low)


def _ink_mask(image: Image.Image) -> tuple[np.ndarray, float]:
    """(ink as a boolean array at working size, full-size pixels per working pixel)."""
    grey = median3(to_greyscale_uint8(image))  # at full size: specks go, thin strokes stay
    factor = max(1, math.ceil(max(grey.shape) / WORK_SIZE))
    if factor > 1:  # darkest pixel of each block, so that a thin stroke is not averaged away
        h, w = (grey.shape[0] // factor) * factor, (grey.shape[1] // factor) * factor
        # Rows, then columns, as strided minima: the reshape's minimum over two axes cost ten times more.
        grey = np.minimum.reduce([grey[i:h:factor, :w] for i in range(factor)])
        grey = np.minimum.reduce([grey[:, j:w:factor] for j in range(factor)])
    if grey.size == 0 or int(grey.max()) - int(grey.min()) < MIN_CONTRAST:
        return np.zeros(grey.shape, dtype=bool), float(factor)
    return grey < otsu_threshold(grey), float(factor)


def _without_rules(ink: np.ndarray) -> np.ndarray:
    """Ink less the printed rules and box edges (long straight runs); handwriting stays."""
    height, width = ink.shape
    horizontal = max(15, int(RULE_MIN_LENGTH * width))
    vertical = max(15, int(EDGE_MIN_LENGTH * height))
    rules = _runs(ink, horizontal, axis=1) | _runs(ink, vertical, axis=0)
    return ink & ~rules


def _runs(mask: np.ndarray, length: int, axis: int) -> np.ndarray:
    """Pixels on a straight run of at least ``length`` along ``axis``, gaps of a few pixels
    bridged (a dithered grey rule is dotted): a 1-D closing, then a 1-D opening, O(n).

    The closing fills gaps of at most 4 (and 2 at the edge), so every 5 pixels of a bridged run
    hold ink: only the lines (rows or columns) with ``length // 5`` ink pixels can hold a run,
    and the filters run on those alone."""
    lines = np.flatnonzero(np.count_nonzero(mask, axis=axis) >= length // 5)
    out = np.zeros(mask.shape, dtype=bool)
    if lines.size == 0:
        return out
    values = (mask[lines] if axis == 1 else mask[:, lines]).view(np.uint8)
    bridged = min1d(max1d(values, 5, axis), 5, axis)
    eroded = min1d(bridged, length, axis, outside_zero=True)
    runs = max1d(eroded, length, axis).view(bool)
    if axis == 1:
        out[lines] = runs
    else:
        out[:, lines] = runs
    return out


def _code_line_top(ink: np.ndarray) -> int | None:
    """First row of the lowest wide, short band of ink near the bottom (the MICR line)."""
    height, width = ink.shape
    rows = ink.sum(axis=1) > max(2, 0.003 * width)
    bands, start = [], None
    for y, has_ink in enumerate(np.append(rows, False)):
        if has_ink and start is None:
            start = y
        elif not has_ink and start is not None:
            bands.append((start, y))
            start = None
    for y0, y1 in reversed(bands):
        if y0 < CODE_LINE_ZONE * height:
            break
        if y1 - y0 > CODE_LINE_MAX_HEIGHT * height:
            continue
        columns = np.flatnonzero(ink[y0:y1].any(axis=0))
        if columns.size and columns[0] < 0.4 * width and columns[-1] > 0.6 * width:
            return y0
    return None


def _largest_cluster_box(ink: np.ndarray) -> tuple[float, float, float, float] | None:
    """(x0, y0, x1, y1) of the ink of the biggest cluster and its close neighbours."""
    height, width = ink.shape
    if not ink.any():
        return None
    joined = max1d(ink.view(np.uint8), max(3, int(JOIN[0] * height)), axis=0)
    joined = max1d(joined, max(3, int(JOIN[1] * width)), axis=1)  # a rectangle, separably
    labels, count, boxes = label_boxes(joined, connectivity=4)
    ink_labels = labels[ink]
    amounts = np.bincount(ink_labels, minlength=count + 1)
    amounts[0] = 0
    min_ink = max(30, int(2e-4 * height * width))  # specks and dust are no signature
    if amounts.max() < min_ink:
        return None
    chosen = int(amounts.argmax())
    members = np.zeros(count + 1, dtype=bool)
    members[chosen] = True
    x0, y0, x1, y1 = boxes[chosen - 1].tolist()
    gap = MERGE_GAP * width
    # Neighbours join until none is close enough. The box only grows, so the members are the
    # same whatever the order they join in: all the close ones of a pass join at once.
    eligible = amounts[1:] >= max(min_ink, MERGE_MIN_SHARE * amounts[chosen])
    bx0, by0, bx1, by1 = boxes.T
    while True:
        near = eligible & ~members[1:]
        near &= (bx0 < x1 + gap) & (bx1 > x0 - gap) & (by0 < y1 + gap / 2) & (by1 > y0 - gap / 2)
        if not near.any():
            break
        members[1:] |= near
        x0, y0 = min(x0, int(bx0[near].min())), min(y0, int(by0[near].min()))
        x1, y1 = max(x1, int(bx1[near].max())), max(y1, int(by1[near].max()))
    mask = members[labels[y0:y1, x0:x1]] & ink[y0:y1, x0:x1]  # every member lies in the box
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return float(x0 + cols[0]), float(y0 + rows[0]), float(x0 + cols[-1] + 1), float(y0 + rows[-1] + 1)


def _to_full(box, scale, width, height, code_line_top) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = (v * scale for v in box)
    bottom = code_line_top if code_line_top is not None else height
    x0, y0 = max(0, int(math.floor(x0))), max(0, int(math.floor(y0)))
    x1, y1 = min(width, int(math.ceil(x1))), min(bottom, height, int(math.ceil(y1)))
    return x0, y0, max(1, x1 - x0), max(1, y1 - y0)


def _default_box(width: int, height: int, code_line_top: int | None) -> tuple[int, int, int, int]:
    fx, fy, fw, fh = DEFAULT_BOX
    x, y = int(fx * width), int(fy * height)
    bottom = min(height, code_line_top) if code_line_top else height
    h = max(1, min(int(fh * height), bottom - y))
    return x, y, max(1, min(int(fw * width), width - x)), h
