"""The proposed signature region on generated whole-cheque scans."""

import io

import numpy as np
import pytest
from PIL import Image

from sigverify.cheque import find_signature_region, propose_signature_box
from sigverify.preprocess import load_image
from sigverify.synthetic_signatures import draw_signature
from testsupport.synthetic_data import draw_cheque, png_bytes


def signature_ink_box(writer: int, box) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 of the signature's own ink, in cheque pixels."""
    x, y, width, height = box
    ink = np.asarray(draw_signature(writer, 0, size=(width, height))) < 128
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return x + cols[0], y + rows[0], x + cols[-1] + 1, y + rows[-1] + 1


def assert_covers_the_signature_only(region, writer, signature_box, cheque_size):
    x, y, w, h = region.box
    sx0, sy0, sx1, sy1 = signature_ink_box(writer, signature_box)
    scale = cheque_size[0] / 1200
    slack = 2 * scale  # a pixel of stroke lost at a crossing with the signature line
    assert x <= sx0 + slack and y <= sy0 + slack and x + w >= sx1 - slack and y + h >= sy1 - slack, (
        region,
        (sx0, sy0, sx1, sy1),
    )
    # Tight: no more than a margin around the signature (not the whole lower right).
    margin = 0.06 * max(sx1 - sx0, sy1 - sy0) + 3 * scale
    assert x >= sx0 - margin and y >= sy0 - margin and x + w <= sx1 + margin and y + h <= sy1 + margin, region
    # Above the code line, which starts at 86% of the height in the drawn cheque.
    assert region.code_line_top is not None and abs(region.code_line_top - 0.86 * cheque_size[1]) <= 2 * scale
    assert y + h <= region.code_line_top


@pytest.mark.parametrize("writer", [1, 2, 3, 4, 5, 6])
def test_box_covers_the_signature_and_not_the_code_line(writer):
    cheque, box = draw_cheque(writer)
    region = find_signature_region(cheque)
    assert region.found
    assert_covers_the_signature_only(region, writer, box, cheque.size)
    assert propose_signature_box(cheque) == region.box


def test_bilevel_group4_tiff_at_200_dpi_as_archives_store_it():
    cheque, box = draw_cheque(2)
    data = png_bytes(cheque.convert("1", dither=Image.Dither.NONE), "TIFF", compression="group4", dpi=(200, 200))
    image = load_image(data)
    assert image.mode == "1" and image.info.get("compression") == "group4"
    assert_covers_the_signature_only(find_signature_region(image), 2, box, cheque.size)


def test_multi_page_tiff_uses_the_front_page_1():
    front, box = draw_cheque(3)
    back = Image.new("L", front.size, 255)
    back.paste(0, (40, 40, 400, 300))  # an endorsement stamp on the back
    data = png_bytes(front.convert("1"), "TIFF", compression="group4", save_all=True, append_images=[back.convert("1")])
    assert Image.open(io.BytesIO(data)).n_frames == 2
    assert_covers_the_signature_only(find_signature_region(load_image(data)), 3, box, front.size)


def test_600_dpi_colour_scan_gives_the_same_region_in_its_own_pixels():
    cheque, box = draw_cheque(4, size=(3600, 1650))
    colour = Image.merge("RGB", [cheque.point(lambda v: min(255, v + 10)), cheque, cheque])  # a tinted paper
    assert_covers_the_signature_only(find_signature_region(colour), 4, box, colour.size)


def test_cheque_without_a_code_line():
    cheque, box = draw_cheque(5, code_line=False)
    region = find_signature_region(cheque)
    assert region.found and region.code_line_top is None
    x, y, w, h = region.box
    sx0, sy0, sx1, sy1 = signature_ink_box(5, box)
    assert x <= sx0 and y <= sy0 and x + w >= sx1 and y + h >= sy1


def test_rgba_cheque_on_transparent_paper_reads_as_on_white():
    cheque, box = draw_cheque(6)
    rgba = Image.new("RGBA", cheque.size, (0, 0, 0, 0))
    rgba.putalpha(cheque.point(lambda v: 255 - v))  # ink as alpha over black: white where transparent
    assert find_signature_region(rgba).box == find_signature_region(cheque).box


@pytest.mark.parametrize(
    "image",
    [Image.new("L", (1200, 550), 255), Image.new("1", (1200, 550), 1), Image.new("RGB", (40, 20), (30, 30, 30))],
    ids=["white", "bilevel-white", "tiny"],
)
def test_no_ink_gives_the_usual_place_inside_the_image(image):
    region = find_signature_region(image)
    assert not region.found
    x, y, w, h = region.box
    assert 0 <= x and 0 <= y and w >= 1 and h >= 1 and x + w <= image.width and y + h <= image.height
    assert x >= 0.5 * image.width and y >= 0.4 * image.height


@pytest.mark.parametrize("seed", range(5))
def test_any_image_gives_a_box_inside_it(seed):
    rng = np.random.default_rng(seed)
    size = (int(rng.integers(8, 700)), int(rng.integers(8, 400)))
    image = Image.fromarray(rng.integers(0, 256, size[::-1], dtype=np.uint8))
    x, y, w, h = propose_signature_box(image)
    assert 0 <= x and 0 <= y and w >= 1 and h >= 1 and x + w <= image.width and y + h <= image.height


def test_box_keeps_off_the_signature_line_just_under_the_signature():
    strokes = draw_signature(2, 0, size=(360, 100))
    ink_bottom = int(np.flatnonzero((np.asarray(strokes) < 128).any(axis=1))[-1])
    line_y = int(0.78 * 550)  # the printed signature line of the drawn cheque: rows 429 and 430
    top = line_y - 6 - ink_bottom  # the lowest stroke 6 pixels above the line
    cheque, _ = draw_cheque(signature=strokes, signature_at=(0.6, top / 550))
    x, y, w, h = find_signature_region(cheque).box
    assert top + ink_bottom < y + h <= line_y  # the margin stops short of the line
    assert y <= top + int(np.flatnonzero((np.asarray(strokes) < 128).any(axis=1))[0])
