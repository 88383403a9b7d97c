"""Printed rules and legends out of a signature crop, strokes kept.

A crop from a cheque carries the printed signature line (often through the strokes), box
edges at its sides and a printed legend under the line ("Authorised signatory"); reference
cards carry none. Left in, the model reads them as strokes. ``clean_ink`` takes the ink mask
of ``preprocess`` and returns it without:

- horizontal rules: straight runs at least ``RULE_FRACTION`` of the crop's width (a 1-D
  opening, tried over a few small shears so a skewed scan's line is found too), thin;
- vertical box edges: straight runs most of the crop's height, near its left or right side,
  where a horizontal rule was found too (on a clean card such an edge is the scanner's, and
  the crop is left as it is);
- the printed legend: small components wholly below a removed line when the signature lies
  above it.

Rule pixels where a stroke continues above or below (a stroke crossing the line) stay, so
the stroke is not cut in two. A clean signature has no straight run that long, so the mask
comes back unchanged, and ``preprocess`` output with it (checked on the development data:
see ``benchmarks/capture_quality.py``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

try:  # OpenCV's headless wheel (requirements.txt); numpy is the fallback
    import cv2
except ImportError:  # pragma: no cover
    cv2 = None

from .morphology import max1d, min1d

RULE_FRACTION = 0.8  # a horizontal run this share of the crop's width is printed (handwriting: < 0.75)
BORDER_ROWS = 3  # a line within this many rows of the top or bottom is the scan's edge: left alone
RULE_MIN_LENGTH = 80  # pixels: small crops have no room to tell a rule from a stroke
EDGE_FRACTION = 0.75  # a vertical run this share of the crop's height ...
EDGE_SIDE = 0.12  # ... within this share of the width from the left or right side is a box edge
MAX_RULE_THICKNESS = 0.06  # of the crop's height (at least 4 px): thicker is a stroke or a bar
RULE_FRINGE = 2  # pixels above and below a line's straight runs that belong to it
RESIDUE_PIXELS = 12  # a piece this small beside a removed line is a piece of it
GAP_BRIDGE = 5  # pixels: a dithered or broken printed line is dotted
SHEARS = np.tan(np.radians(np.arange(-2.0, 2.01, 0.25)))  # skew a scan may have
LEGEND_MAX_HEIGHT = 0.5  # of the signature's height above the line: taller is handwriting


@dataclass(frozen=True)
class Cleaning:
    rules: int  # horizontal lines removed
    edges: int  # vertical box edges removed
    legend_pixels: int  # printed text under the line removed
    removed_pixels: int

    @property
    def changed(self) -> bool:
        return self.removed_pixels > 0


NOTHING = Cleaning(0, 0, 0, 0)


def clean_ink(ink: np.ndarray) -> tuple[np.ndarray, Cleaning]:
    """(ink without printed rules, edges and legend; what was removed). ``ink`` is boolean,
    True on ink; it is not modified. Unchanged (the same object) when nothing is found."""
    height, width = ink.shape
    if width < RULE_MIN_LENGTH and height < RULE_MIN_LENGTH:
        return ink, NOTHING
    thickness = max(4, int(MAX_RULE_THICKNESS * height))
    rules, rule_count = _horizontal_rules(ink, max(RULE_MIN_LENGTH, int(RULE_FRACTION * width)), thickness)
    if not rule_count:  # a crop with no printed line is no form: a straight edge there is the scanner's
        return ink, NOTHING
    edges, edge_count = _vertical_edges(ink, max(RULE_MIN_LENGTH, int(EDGE_FRACTION * height)))
    printed = rules | edges
    strokes = ink & ~printed
    crossing = _crossings(rules, edges, strokes, thickness)
    cleaned = strokes | crossing
    cleaned &= ~_legend_under(cleaned, rules)
    cleaned &= ~_residue(cleaned, printed)
    legend = int((ink & ~printed).sum() - (cleaned & ~printed).sum())
    return cleaned, Cleaning(rule_count, edge_count, legend, int(ink.sum() - cleaned.sum()))


def _runs(mask: np.ndarray, length: int, axis: int) -> np.ndarray:
    """Pixels of ``mask`` on a straight run of at least ``length`` along ``axis``, gaps of a
    few pixels bridged: a 1-D closing, a 1-D opening, back to the ink."""
    # Only the rows (columns) with enough ink can hold such a run: each ink pixel bridges at most
    # GAP_BRIDGE pixels, and the bridge reaches a border by GAP_BRIDGE // 2. The 1-D filters run
    # along the axis, line by line, so running them on those lines alone changes no pixel.
    lines = np.flatnonzero(mask.sum(axis=axis) >= max(1, (length - 2 * GAP_BRIDGE) // GAP_BRIDGE))
    out = np.zeros_like(mask)
    if lines.size == 0:
        return out
    part = mask[lines] if axis == 1 else mask[:, lines]
    values = part.view(np.uint8)
    bridged = min1d(max1d(values, GAP_BRIDGE, axis), GAP_BRIDGE, axis)
    eroded = min1d(bridged, length, axis, outside_zero=True)
    runs = max1d(eroded, length, axis).astype(bool) & part
    if axis == 1:
        out[lines] = runs
    else:
        out[:, lines] = runs
    return out


def _horizontal_rules(ink: np.ndarray, length: int, thickness: int) -> tuple[np.ndarray, int]:
    if ink.shape[1] < length:
        return np.zeros_like(ink), 0
    found = _straight_runs(ink, length)
    if not found.any():
        return found, 0
    # One line is a band a few pixels thick; a thick band of long runs is a filled bar or
    # a heavy stroke, not a printed line: keep the thin ones.
    labels, count = ndimage.label(found, structure=np.ones((3, 3), dtype=bool))
    kept = np.zeros(count + 1, dtype=bool)
    for index, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
        span = cols.stop - cols.start
        band = (labels[rows, cols] == index).sum(axis=0)  # this line's thickness, column by column
        at_border = rows.stop <= BORDER_ROWS or rows.start >= ink.shape[0] - BORDER_ROWS  # a scanner's edge
        if span >= length and np.median(band[band > 0]) <= thickness and not at_border:
            kept[index] = True
    # The runs are the rows straight along the line; a skewed or ragged line has a fringe of
    # pixels a row above or below them. They go with it (a stroke there is restored later).
    rules = ink & ndimage.maximum_filter1d(kept[labels].view(np.uint8), 2 * RULE_FRINGE + 1, axis=0).astype(bool)
    return rules, int(kept.sum())


def _straight_runs(ink: np.ndarray, length: int) -> np.ndarray:
    """Ink on a straight run of at least ``length`` along any of the ``SHEARS``: for each, as if
    the whole mask were sheared (column x shifted by round(slope * x), so a line of that slope
    becomes level), a row up or down tolerated (a 3-row max) and ``_runs`` taken along its
    rows, the runs sheared back. Equal to that (``test_fast_paths`` checks it against the whole
    shear) and many times faster, by building only the sheared rows that can hold such a run.

    A run of at least ``length`` in a ``width``-wide row covers the middle columns
    ``[width - length, length)``, and bridging only joins gaps shorter than ``GAP_BRIDGE``: so
    every window of ``GAP_BRIDGE`` columns there holds ink of the row's 3-row band. Along a
    shear's column groups (where its shift is constant) that band is one row of the unsheared
    mask's band; ``_full_windows`` says, for each group and band row, whether all its windows
    hold ink. A shear with a group where no row does is ruled out at once (almost every shear
    of a crop without a printed line); otherwise only its rows full in every group are built."""
    height, width = ink.shape
    found = np.zeros_like(ink)
    mask = ink.view(np.uint8)
    shears, low, high = _shear_groups(width, length)
    full = _full_windows(mask, width - length, low, high)
    usable = full.any(axis=1)
    band = None
    for shear in shears:
        sheared_rows = height + 2 * shear.pad
        offset = 1 - shear.pad  # sheared row i, column x lies in band row i + offset + shifts[x]
        groups = slice(*shear.groups)
        if not usable[groups].all():
            continue
        rows = _rows_full_in_every_group(full[groups], shear.group_shifts, offset, sheared_rows)
        if rows.size == 0:
            continue
        if band is None:
            band = np.zeros((height + 2, width), dtype=np.uint8)  # band[r + 1]: ink in rows r - 1 .. r + 1
            band[1:-1] = mask
            band[:-2] |= mask
            band[2:] |= mask
        source = rows[:, None] + offset + shear.shifts[None, :]
        level = _take_rows(band, source)
        runs = _runs(level.view(bool), length, axis=1) & _take_rows(mask, source - 1).view(bool)
        if runs.any():  # back to the unsheared mask: each run pixel is one of its ink pixels
            hit_rows, hit_cols = np.nonzero(runs)
            found[source[hit_rows, hit_cols] - 1, hit_cols] = True
    return found


@dataclass(frozen=True)
class _ShearGroups:
    shifts: np.ndarray  # round(slope * x) for each column x
    pad: int  # the largest shift: the sheared mask is 2 * pad rows taller
    groups: tuple[int, int]  # its column groups with windows in the middle: [start, stop) of the arrays
    group_shifts: np.ndarray  # their shifts


@functools.lru_cache(maxsize=64)
def _shear_groups(width: int, length: int) -> tuple[tuple[_ShearGroups, ...], np.ndarray, np.ndarray]:
    """Each shear's column groups of one shift, and for all of them together the first and last
    window (counted from column ``width - length``) lying wholly in the group and the middle."""
    first, last = width - length, length - GAP_BRIDGE
    shifts = np.round(SHEARS[:, None] * np.arange(width)).astype(int)  # a row per shear
    starts = np.ones(shifts.shape, dtype=bool)
    starts[:, 1:] = shifts[:, 1:] != shifts[:, :-1]
    shear_of, start = np.nonzero(starts)  # ordered by shear, then column
    stop = np.append(start[1:], width)
    stop[np.append(shear_of[1:] != shear_of[:-1], True)] = width  # a shear's last group ends at the edge
    low = np.maximum(start, first)
    high = np.minimum(stop - GAP_BRIDGE, last)
    kept = high >= low
    shear_of, start, low, high = shear_of[kept], start[kept], low[kept] - first, high[kept] - first
    bounds = np.searchsorted(shear_of, np.arange(len(SHEARS) + 1))
    pads = np.abs(shifts).max(axis=1)
    shears = tuple(
        _ShearGroups(
            shifts[k], int(pads[k]), (int(bounds[k]), int(bounds[k + 1])), shifts[k, start[bounds[k] : bounds[k + 1]]]
        )
        for k in range(len(SHEARS))
    )
    return shears, low, high


def _full_windows(mask: np.ndarray, first: int, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``full[g, r + 1]``: each window of ``GAP_BRIDGE`` columns starting at ``first + low[g]`` ..
    ``first + high[g]`` holds ink in rows r - 1 .. r + 1 (r from -1 to the height)."""
    columns = cv2.transpose(mask) if cv2 is not None else np.ascontiguousarray(mask.T)  # row x: column x
    band = np.zeros((columns.shape[0], columns.shape[1] + 2), dtype=np.uint8)
    band[:, 1:-1] = columns
    band[:, :-2] |= columns
    band[:, 2:] |= columns
    end = first + int(high.max(initial=-1)) + 1 if low.size else first
    windows = band[first:end].copy()
    for step in range(1, GAP_BRIDGE):
        windows |= band[first + step : end + step]
    if cv2 is not None:
        sums = cv2.integral(windows)  # sums[x, r]: windows before x, in band rows before r
    else:  # pragma: no cover - OpenCV is in requirements.txt
        sums = np.zeros((windows.shape[0] + 1, windows.shape[1] + 1), dtype=np.int64)
        sums[1:, 1:] = windows.cumsum(axis=0).cumsum(axis=1)
    inside = sums[high + 1] - sums[low]
    return np.diff(inside, axis=1) == (high - low + 1)[:, None]


def _rows_full_in_every_group(full: np.ndarray, group_shifts: np.ndarray, offset: int, sheared_rows: int) -> np.ndarray:
    """Sheared rows whose band row is full in every group (rows beyond the band hold no ink)."""
    if full.shape[0] == 0:  # no window lies wholly in a group: nothing to rule out
        return np.arange(sheared_rows)
    edge = 2 * abs(offset) + 2
    padded = np.zeros((full.shape[0], full.shape[1] + 2 * edge), dtype=bool)
    padded[:, edge:-edge] = full
    source = np.arange(sheared_rows)[:, None] + (offset + edge) + group_shifts[None, :]
    return np.flatnonzero(padded[np.arange(full.shape[0])[None, :], source].all(axis=1))


def _take_rows(values: np.ndarray, source: np.ndarray) -> np.ndarray:
    """``values[source[k, x], x]``, zero where ``source`` falls outside ``values``' rows."""
    inside = (source >= 0) & (source < values.shape[0])
    taken = values[np.clip(source, 0, values.shape[0] - 1), np.arange(values.shape[1])[None, :]]
    taken[~inside] = 0
    return taken


def _vertical_edges(ink: np.ndarray, length: int) -> tuple[np.ndarray, int]:
    height, width = ink.shape
    if height < length:
        return np.zeros_like(ink), 0
    runs = _runs(ink, length, axis=0)
    side = max(2, int(EDGE_SIDE * width))
    runs[:, side : width - side] = False
    if not runs.any():
        return runs, 0
    labels, count = ndimage.label(runs, structure=np.ones((3, 3), dtype=bool))
    return runs, count


def _crossings(rules: np.ndarray, edges: np.ndarray, strokes: np.ndarray, thickness: int) -> np.ndarray:
    """Printed pixels a stroke runs into from above or below (from the side, for an edge):
    kept, so a stroke crossing the line stays whole."""
    reach = 2 * thickness + 1
    near = ndimage.maximum_filter(strokes.view(np.uint8), size=(reach, 3)).astype(bool)
    near_side = ndimage.maximum_filter(strokes.view(np.uint8), size=(3, reach)).astype(bool)
    return (rules & near) | (edges & ~rules & near_side)


def _residue(ink: np.ndarray, printed: np.ndarray) -> np.ndarray:
    """Specks the removal left beside a line (its ragged edge): tiny pieces touching it."""
    labels, count = ndimage.label(ink, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return np.zeros_like(ink)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    touching = np.zeros(count + 1, dtype=bool)
    touching[np.unique(labels[ndimage.binary_dilation(printed, iterations=2) & ink])] = True
    small = (sizes <= RESIDUE_PIXELS) & touching
    small[0] = False
    return small[labels]


def _legend_under(ink: np.ndarray, rules: np.ndarray) -> np.ndarray:
    """Small components wholly below the lowest line, when the signature is above it: the
    printed legend ("Authorised signatory", "Please sign above")."""
    rows = np.flatnonzero(rules.any(axis=1))
    line_bottom = int(rows.max())
    gaps = np.flatnonzero(np.diff(rows) > 1)  # the lowest line's rows: the last unbroken band
    line_top = int(rows[gaps[-1] + 1]) if gaps.size else int(rows.min())
    above = ink[:line_top].sum()
    below_mask = np.zeros_like(ink)
    below_mask[line_bottom + 2 :] = True
    if above == 0 or above < (ink & below_mask).sum():
        return np.zeros_like(ink)
    above_rows = np.flatnonzero(ink[:line_top].any(axis=1))
    signature_height = line_top - int(above_rows.min()) if above_rows.size else 0
    labels, count = ndimage.label(ink, structure=np.ones((3, 3), dtype=bool))
    legend = np.zeros(count + 1, dtype=bool)
    for index, (rws, _cols) in enumerate(ndimage.find_objects(labels), start=1):
        if rws.start >= line_bottom + 2 and (rws.stop - rws.start) <= LEGEND_MAX_HEIGHT * max(signature_height, 1):
            legend[index] = True
    return legend[labels]
