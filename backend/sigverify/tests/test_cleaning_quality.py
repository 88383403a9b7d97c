"""Crop cleaning (printed rules and legend out, crossing strokes kept) and the quality gate
(dithered, faint, fragmented, clipped, too small), on images the tests draw."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from sigverify import quality
from sigverify.cleaning import clean_ink
from sigverify.preprocess import median3, otsu_threshold, preprocess_image, to_greyscale
from sigverify.synthetic_signatures import draw_signature

SIZE = (128, 256)
CROSSING = [(300, 60), (306, 215)]
LINE_Y = 175  # under the drawn signature (rows 40-160), which only the crossing stroke reaches


def ink_of(image: Image.Image) -> np.ndarray:
    grey = median3(to_greyscale(image).astype(np.uint8)).astype(np.float32)
    return grey < otsu_threshold(grey)


def signed_on_a_line(slope_degrees: float = 0.0, legend: bool = False, paper: int = 255, line: int = 2) -> Image.Image:
    """A signature with one stroke straight down through a printed line, as on a cheque."""
    canvas = Image.new("L", (520, 240), paper)
    canvas.paste(draw_signature(5, 2, size=(520, 200), paper=paper, pen=4), (0, 0))
    draw = ImageDraw.Draw(canvas)
    rise = np.tan(np.radians(slope_degrees)) * 520
    draw.line([(0, LINE_Y), (519, LINE_Y + rise)], fill=40, width=line)
    draw.line(CROSSING, fill=20, width=4)  # the stroke crossing the line
    if legend:
        draw.text((120, 190), "AUTHORISED SIGNATORY", fill=30, font=ImageFont.load_default(size=14))
    return canvas


def test_the_printed_line_goes_and_the_stroke_crossing_it_stays():
    ink = ink_of(signed_on_a_line())
    cleaned, info = clean_ink(ink)
    assert info.rules == 1 and info.changed
    line_rows = slice(LINE_Y - 2, LINE_Y + 3)
    # Far from any stroke the line is gone ...
    assert not cleaned[line_rows, 5:25].any() and not cleaned[line_rows, 495:515].any()
    assert ink[line_rows, 5:25].any()
    # ... where the stroke crosses it the ink stays, and the stroke is one piece through it.
    assert cleaned[line_rows, 300:310].any()
    labels, _ = ndimage.label(cleaned, structure=np.ones((3, 3)))
    above = labels[LINE_Y - 20, 300:310]
    below = labels[LINE_Y + 20, 300:310]
    assert set(above[above > 0]) & set(below[below > 0])


def test_a_skewed_line_is_found_too():
    ink = ink_of(signed_on_a_line(slope_degrees=1.2, line=3))  # a sloped 2-px line is 1 px in places
    assert ink[LINE_Y - 2 : LINE_Y + 4, 5:25].any()
    cleaned, info = clean_ink(ink)
    assert info.rules >= 1
    assert not cleaned[LINE_Y - 2 : LINE_Y + 4, 5:25].any()
    assert not cleaned[LINE_Y + 6 : LINE_Y + 14, 480:515].any()  # its far end, 10 px lower


def test_the_printed_legend_under_the_line_goes():
    ink = ink_of(signed_on_a_line(legend=True))
    cleaned, info = clean_ink(ink)
    assert info.legend_pixels > 50
    assert not cleaned[LINE_Y + 6 :, 100:290].any()  # the legend's letters, left of the stroke


@pytest.mark.parametrize("writer", range(1, 9))
def test_a_clean_signature_is_left_exactly_as_it_was(writer):
    """No line, no dots: cleaning and descreening change nothing, so the shipped model's input
    (and every cache) stays valid without a new preprocessing version."""
    for forged in (False, True):
        image = draw_signature(writer, 3, forged=forged, size=(420, 200))
        ink = ink_of(image)
        assert clean_ink(ink)[0] is ink
        with_cleaning, quality_info = preprocess_image(image, SIZE)
        without, _ = preprocess_image(image, SIZE, clean=False)
        assert np.array_equal(with_cleaning, without)
        assert quality_info.usable and not quality_info.descreened


def test_the_cheque_crop_looks_like_the_card_after_cleaning():
    crop = signed_on_a_line(legend=True)
    card = Image.new("L", (520, 240), 255)  # the same signature on a card: no line, no legend
    card.paste(draw_signature(5, 2, size=(520, 200), pen=4), (0, 0))
    ImageDraw.Draw(card).line(CROSSING, fill=20, width=4)
    card, _ = preprocess_image(card, SIZE)
    cleaned, info = preprocess_image(crop, SIZE)
    raw, _ = preprocess_image(crop, SIZE, clean=False)
    assert info.printed_removed > 0

    def distance(a, b):
        return float(np.abs(a.astype(float) - b.astype(float)).mean())

    assert distance(cleaned, card) < 0.5 * distance(raw, card)


# --- the quality gate --------------------------------------------------------------------------


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.astype(float).ravel(), b.astype(float).ravel())[0, 1])


@pytest.mark.parametrize("paper", [200, 170, 150])
def test_a_dithered_scan_is_descreened_and_then_reads_like_the_thresholded_one(paper):
    grey = draw_signature(3, 1, size=(500, 220), paper=paper, ink=30, pen=4)
    thresholded, _ = preprocess_image(grey.convert("1", dither=Image.Dither.NONE), SIZE)
    dithered = grey.convert("1")  # Floyd-Steinberg: the grey paper becomes dots
    assert quality.looks_dithered(np.asarray(dithered) == 0)
    recovered, info = preprocess_image(dithered, SIZE)
    assert info.descreened and info.usable
    assert correlation(recovered, thresholded) > 0.85


def test_a_dithered_scan_left_as_it_is_fails_the_dithered_check():
    dithered = draw_signature(3, 1, size=(500, 220), paper=170, ink=30, pen=4).convert("1")
    _, info = preprocess_image(dithered, SIZE, clean=False)
    assert "dithered" in info.checks_failed


def test_dots_that_descreening_cannot_separate_from_the_strokes_fail_the_dithered_check():
    # Ink and paper close in grey, then dithered: after the low-pass the strokes stay a dot pattern.
    rng = np.random.default_rng(4)
    dots = rng.random((220, 500)) < 0.45
    grey = draw_signature(3, 1, size=(500, 220), paper=255, ink=0, pen=2)
    image = Image.fromarray(np.where(dots | (np.asarray(grey) < 128), 0, 255).astype(np.uint8))
    _, info = preprocess_image(image, SIZE)
    assert "dithered" in info.checks_failed and not info.usable


def scanned(image: Image.Image, noise: float) -> Image.Image:
    """The image with a scanner's grey-level noise."""
    array = np.asarray(image, dtype=np.float32) + np.random.default_rng(1).normal(0, noise, image.size[::-1])
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))


def test_faint_ink_fails_the_faint_check_and_dark_ink_does_not():
    _, faint = preprocess_image(scanned(draw_signature(3, 1, size=(500, 220), paper=245, ink=215, pen=4), 8), SIZE)
    _, dark = preprocess_image(scanned(draw_signature(3, 1, size=(500, 220), paper=245, ink=60, pen=4), 8), SIZE)
    _, light_on_clean_paper = preprocess_image(draw_signature(3, 1, size=(500, 220), paper=250, ink=215), SIZE)
    assert "faint" in faint.checks_failed
    assert dark.usable and light_on_clean_paper.usable


def test_a_box_cutting_through_the_signature_fails_the_clipped_check():
    image = draw_signature(3, 1, size=(500, 220), pen=4)
    _, whole = preprocess_image(image, SIZE, crop=(0, 0, 500, 220))
    _, cut = preprocess_image(image, SIZE, crop=(0, 60, 500, 90))
    assert whole.usable
    assert "clipped" in cut.checks_failed


def test_dots_beside_a_box_around_the_whole_signature_do_not_make_it_clipped():
    """Halftone dots or specks of a cheque's background on and just outside the box's edge are no
    strokes going on: only a piece reaching CUT_MIN_REACH pixels out counts as a cut."""
    from sigverify import quality

    page = np.full((320, 700), 255, np.uint8)
    page[50:270, 100:600] = np.asarray(draw_signature(3, 1, size=(500, 220), pen=4))
    box = (90, 40, 520, 240)
    dotted = page.copy()
    for x in range(box[0] - 3, box[0] + box[2] + 3, 6):  # 3x3 dots straddling the top and bottom edges
        for y in (box[1] - 2, box[1] + box[3] - 2):
            dotted[y : y + 3, x : x + 3] = 0
    _, info = preprocess_image(Image.fromarray(dotted), SIZE, crop=box)
    assert "clipped" not in info.checks_failed
    ink = dotted < 128
    assert not quality.strokes_cut(ink, box)
    strokes = dotted.copy()  # the same dots, two of them drawn out into strokes leaving the box
    for x in (box[0] + 9, box[0] + 309):
        strokes[box[1] - 2 - quality.CUT_MIN_REACH : box[1] + 1, x : x + 3] = 0
    assert quality.strokes_cut(strokes < 128, box)


def test_strokes_leaving_a_tight_upload_through_its_border_fail_the_clipped_check():
    image = draw_signature(3, 1, size=(500, 220), pen=4)
    array = np.asarray(image).copy()
    for x in range(40, 480, 40):  # strokes cut off at the top and bottom of the scan
        array[:, x : x + 4] = np.where(np.arange(220)[:, None] < 40, 20, array[:, x : x + 4])
        array[:, x + 10 : x + 14] = np.where(np.arange(220)[:, None] > 180, 20, array[:, x + 10 : x + 14])
    _, info = preprocess_image(Image.fromarray(array), SIZE)
    assert "clipped" in info.checks_failed


def test_a_signature_too_small_in_the_image_fails_the_size_check():
    page = Image.new("L", (1200, 800), 255)
    page.paste(draw_signature(3, 1, size=(60, 30), pen=1), (500, 400))
    _, info = preprocess_image(page, SIZE)
    assert "too_small" in info.checks_failed


def test_strokes_broken_into_dust_fail_the_fragmented_check():
    array = np.asarray(draw_signature(3, 1, size=(500, 220), pen=4)).copy()
    array[np.random.default_rng(0).random(array.shape) < 0.55] = 255
    _, info = preprocess_image(Image.fromarray(array), SIZE)
    assert "fragmented" in info.checks_failed


def test_the_message_names_every_failed_check():
    text = quality.describe(["dithered", "clipped"])
    assert "dithered" in text and "edge of the box" in text


def test_runs_on_the_lines_with_enough_ink_equal_runs_over_the_whole_mask():
    # The row pre-selection must change no pixel: dotted lines, bridged gaps, runs at the borders.
    from sigverify.cleaning import GAP_BRIDGE, _runs
    from sigverify.morphology import max1d, min1d

    rng = np.random.default_rng(0)
    for density in (0.05, 0.2, 0.5, 0.9):
        mask = rng.random((40, 300)) < density
        mask[7, 20 : 280 : GAP_BRIDGE - 1] = True  # a dotted line the bridging joins
        mask[30, :120] = True  # a run from the left border
        for length, axis in ((100, 1), (60, 1), (25, 0)):
            values = mask.view(np.uint8)
            bridged = min1d(max1d(values, GAP_BRIDGE, axis), GAP_BRIDGE, axis)
            whole = max1d(min1d(bridged, length, axis, outside_zero=True), length, axis).astype(bool) & mask
            assert np.array_equal(_runs(mask, length, axis), whole)
