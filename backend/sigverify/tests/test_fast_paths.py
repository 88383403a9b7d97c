"""The fast paths of preprocessing give exactly what the plain algorithms they replace give:
the printed-line search against shearing the whole mask, statistics read off 256-level
histograms against numpy on the pixels, OpenCV's components against SciPy's, the whole
uint8 pipeline against the float one (the path of 16-bit and float images), and the signature
finder's row context from nearby pairs against every pair."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from sigverify import cleaning, quality, signature_finder
from sigverify.cleaning import RULE_FRACTION, RULE_MIN_LENGTH, SHEARS, _runs, _straight_runs
from sigverify.morphology import max1d
from sigverify.preprocess import median3, otsu_threshold, preprocess_image, to_greyscale
from sigverify.synthetic_signatures import draw_signature

SIZE = (128, 256)


def shear(mask: np.ndarray, slope: float, inverse: bool = False) -> np.ndarray:
    """Shift each column up or down by round(slope * x), the array grown so nothing wraps round;
    ``inverse`` undoes it (the search as it was first written)."""
    width = mask.shape[1]
    shifts = np.round(slope * np.arange(width)).astype(int)
    pad = int(np.abs(shifts).max())
    if pad == 0:
        return mask.copy()
    if inverse:
        rows = np.arange(mask.shape[0] - 2 * pad)[:, None] + pad - shifts[None, :]
        return mask[rows, np.arange(width)[None, :]]
    padded = np.zeros((mask.shape[0] + 4 * pad, width), dtype=bool)
    padded[2 * pad : 2 * pad + mask.shape[0]] = mask
    rows = np.arange(mask.shape[0] + 2 * pad)[:, None] - pad + shifts[None, :] + 2 * pad
    return padded[rows, np.arange(width)[None, :]]


def runs_by_shearing_the_whole_mask(ink: np.ndarray, length: int) -> np.ndarray:
    found = np.zeros_like(ink)
    for slope in SHEARS:
        sheared = shear(ink, slope)
        level = max1d(sheared.view(np.uint8), 3, axis=0).astype(bool)
        runs = _runs(level, length, axis=1) & sheared
        if runs.any():
            found |= shear(runs, slope, inverse=True)
    return found


def ink_of(image: Image.Image) -> np.ndarray:
    grey = median3(to_greyscale(image).astype(np.uint8))
    return grey < otsu_threshold(grey)


def signed_on_a_line(slope_degrees: float, line: int = 2, dotted: bool = False, size=(520, 240)) -> Image.Image:
    canvas = Image.new("L", size, 255)
    canvas.paste(draw_signature(4, 1, size=(size[0], size[1] - 40), pen=3), (0, 0))
    draw = ImageDraw.Draw(canvas)
    y = size[1] - 50
    rise = np.tan(np.radians(slope_degrees)) * size[0]
    if dotted:  # a broken printed line: the bridging joins it
        for x in range(0, size[0], 6):
            draw.line([(x, y + rise * x / size[0]), (x + 3, y + rise * (x + 3) / size[0])], fill=30, width=line)
    else:
        draw.line([(0, y), (size[0] - 1, y + rise)], fill=30, width=line)
    return canvas


def random_masks(count: int):
    """Noise of several densities with skewed, broken and doubled lines: runs in many places."""
    rng = np.random.default_rng(7)
    for _ in range(count):
        height, width = int(rng.integers(20, 160)), int(rng.integers(80, 600))
        mask = rng.random((height, width)) < rng.choice([0.01, 0.05, 0.2, 0.5])
        for _line in range(int(rng.integers(0, 3))):
            slope = np.tan(np.radians(rng.uniform(-2.5, 2.5)))
            x = np.arange(int(rng.integers(0, width // 4)), int(rng.integers(3 * width // 4, width)))
            y = np.round(rng.integers(-5, height + 5) + slope * (x - x[0])).astype(int)
            keep = (y >= 0) & (y < height) & (rng.random(x.size) < rng.choice([1.0, 0.8, 0.5]))
            mask[y[keep], x[keep]] = True
            if rng.random() < 0.5:
                below = keep & (y + 1 < height)
                mask[y[below] + 1, x[below]] = True
        yield mask


def line_length(mask: np.ndarray) -> int:
    return max(RULE_MIN_LENGTH, int(RULE_FRACTION * mask.shape[1]))


def test_the_line_search_equals_shearing_the_whole_mask():
    masks = [ink_of(signed_on_a_line(degrees, line)) for degrees in (0.0, 0.7, -1.3, 2.0) for line in (1, 3)]
    masks += [ink_of(signed_on_a_line(1.0, dotted=True)), ink_of(signed_on_a_line(-0.4, size=(90, 120)))]
    masks += [ink_of(draw_signature(writer, 2, size=(420, 200))) for writer in (1, 2, 3)]
    masks += list(random_masks(150))
    with_runs = 0
    for mask in masks:
        if mask.shape[1] < line_length(mask):
            continue
        expected = runs_by_shearing_the_whole_mask(mask, line_length(mask))
        assert np.array_equal(_straight_runs(mask, line_length(mask)), expected)
        with_runs += bool(expected.any())
    assert with_runs > 50  # the comparison covered found lines, not only empty masks


def levels_images():
    rng = np.random.default_rng(3)
    yield rng.integers(0, 256, (37, 53), dtype=np.uint8)  # every level, an odd count
    yield np.where(rng.random((40, 60)) < 0.1, 0, 255).astype(np.uint8)  # bilevel
    yield np.full((8, 8), 200, dtype=np.uint8)
    yield np.array([[10, 20, 30, 40], [10, 20, 200, 210]], dtype=np.uint8)  # even counts: two middles
    yield np.asarray(draw_signature(2, 1, size=(300, 150), paper=238, ink=40))
    noisy = np.asarray(draw_signature(2, 1, size=(300, 150), paper=230, ink=60)).astype(float)
    yield np.clip(noisy + rng.normal(0, 6, noisy.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("index", range(6))
def test_statistics_read_off_histograms_equal_numpy_on_the_pixels(index):
    levels = list(levels_images())[index]
    ink = levels < otsu_threshold(levels)
    assert np.array_equal(quality.level_histogram(levels), np.bincount(levels.ravel(), minlength=256))
    assert np.array_equal(quality.level_histogram(levels, ink), np.bincount(levels[ink], minlength=256))
    for part in (levels, levels[ink], levels[:, :-1]):
        if part.size:
            assert quality.histogram_median(np.bincount(part.ravel(), minlength=256)) == float(np.median(part))
    floats = levels.astype(np.float32)
    assert quality.paper_noise(levels, ink) == quality.paper_noise(floats, ink)
    assert quality.bilevel_levels(quality.level_histogram(levels)) == quality.bilevel(floats)
    for paper, noise in ((float(levels.max()), 0.0), (180.0, 3.0), (250.0, 9.0)):
        assert quality._faint(levels, ink, paper, noise) == quality._faint(floats, ink, paper, noise)
    table = np.linspace(1, 0, 256, dtype=np.float32)
    if ink.any():
        by_pixel = np.percentile(table[levels[ink]], 95)
        assert np.percentile(np.repeat(table, quality.level_histogram(levels, ink)), 95) == by_pixel
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    expected = (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1) if rows.size else (0, 0, 0, 0)
    assert quality.ink_box(ink) == tuple(int(v) for v in expected)


@pytest.mark.parametrize("density", [0.02, 0.08, 0.3])
def test_fragment_counts_equal_scipys_labels(density):
    rng = np.random.default_rng(int(density * 100))
    dust = rng.random((120, 300)) < density
    dust[40:50, 20:280] = True  # one big piece among the specks
    labels, count = ndimage.label(dust, structure=np.ones((3, 3), dtype=bool))
    sizes = np.bincount(labels.ravel())[1:]
    expected = count >= quality.FRAGMENT_MIN_PIECES and (
        float(sizes[sizes < quality.FRAGMENT_PIECE].sum()) / max(1, int(sizes.sum())) >= quality.FRAGMENT_SMALL_SHARE
    )
    assert quality._fragmented(dust) == expected


def uploads():
    """8-bit images down every branch: grey and white paper, paper noise, faint ink, bilevel,
    dithered (descreened), a printed line and legend (cleaned), a crop box."""
    rng = np.random.default_rng(11)
    yield draw_signature(1, 1, size=(400, 200), paper=238), None
    yield draw_signature(2, 1, size=(300, 150), paper=255, ink=90), None
    noisy = np.asarray(draw_signature(3, 2, size=(400, 180), paper=225, ink=80)).astype(float)
    yield Image.fromarray(np.clip(noisy + rng.normal(0, 8, noisy.shape), 0, 255).astype(np.uint8)), None
    yield draw_signature(4, 1, size=(500, 220), paper=200, ink=30, pen=4).convert("1", dither=Image.Dither.NONE), None
    yield draw_signature(3, 1, size=(500, 220), paper=170, ink=30, pen=4).convert("1"), None
    yield signed_on_a_line(0.8, line=3), None
    yield draw_signature(5, 1, size=(500, 260), paper=245), (30, 20, 440, 200)


@pytest.mark.parametrize("index", range(7))
def test_the_uint8_pipeline_gives_the_float_pipelines_output(index):
    image, crop = list(uploads())[index]
    grey = np.asarray(image.convert("L"))
    as_float = Image.fromarray(grey.astype(np.float32), mode="F")  # the same levels, the float path
    fast, fast_quality = preprocess_image(image, SIZE, crop=crop)
    plain, plain_quality = preprocess_image(as_float, SIZE, crop=crop)
    assert np.array_equal(fast, plain)
    assert fast_quality == plain_quality


def test_shear_groups_cover_each_shear_and_are_cached():
    shears, low, high = cleaning._shear_groups(500, 400)
    assert len(shears) == len(SHEARS) and cleaning._shear_groups(500, 400)[0] is shears
    for shear_groups, slope in zip(shears, SHEARS, strict=True):
        assert np.array_equal(shear_groups.shifts, np.round(slope * np.arange(500)).astype(int))
        start, stop = shear_groups.groups
        assert (high[start:stop] >= low[start:stop]).all()


def test_the_uploads_go_down_every_branch():
    qualities = [preprocess_image(image, SIZE, crop=crop)[1] for image, crop in uploads()]
    assert any(q.descreened for q in qualities) and any(q.printed_removed for q in qualities)
    assert len({q.paper_level for q in qualities}) > 3


@pytest.mark.parametrize("count", [1, 2, 40, 900])
def test_the_finders_row_context_from_nearby_pairs_equals_every_pair(count):
    """``_pairs_near`` and ``_pairs_row_median`` against the (n, n) matrices and ``np.nanmedian``."""
    rng = np.random.default_rng(count)
    top = rng.integers(0, 340, count).astype(float)
    height = rng.integers(1, 30, count).astype(float)
    bottom, left, H = top + height, rng.integers(0, 800, count).astype(float), 360.0
    middle = (top + bottom) / 2
    i, j = signature_finder._pairs_near(middle, np.full(count, 0.06 * H))
    band = (np.abs(middle[i] - middle[j]) < 0.06 * H) & (np.abs(left[i] - left[j]) < 0.4 * H)
    every = (np.abs(middle[:, None] - middle[None]) < 0.06 * H) & (np.abs(left[:, None] - left[None]) < 0.4 * H)
    assert np.array_equal(np.bincount(i[band], minlength=count), every.sum(axis=1))
    median = signature_finder._pairs_row_median(i[band], j[band], height, count)
    assert np.array_equal(median, np.nanmedian(np.where(every, height[None], np.nan), axis=1))

    reach = 0.25 * np.maximum(height, 2)
    i, j = signature_finder._pairs_near(bottom, reach)
    same_row = (np.abs(bottom[i] - bottom[j]) < reach[i]) & (i != j)
    every = np.abs(bottom[:, None] - bottom[None]) < reach[:, None]
    np.fill_diagonal(every, False)
    assert np.array_equal(np.bincount(i[same_row], minlength=count), every.sum(axis=1))
