"""Cheque images as archives store them read like PNGs: bilevel CCITT group 4 TIFFs at
200 dpi, multi-page TIFFs (page 1, the front, is used), palette, greyscale and RGBA
(composited on white) PNGs."""

import io

import numpy as np
import pytest
from PIL import Image

from sigverify.preprocess import load_image, preprocess
from sigverify.synthetic_signatures import draw_signature
from testsupport.synthetic_data import png_bytes

SIZE = (64, 96)


def bilevel(writer: int) -> Image.Image:
    return draw_signature(writer, size=(400, 200)).convert("1", dither=Image.Dither.NONE)


def group4(*pages: Image.Image) -> bytes:
    first, *rest = pages
    return png_bytes(first, "TIFF", compression="group4", dpi=(200, 200), save_all=bool(rest), append_images=rest)


def test_group4_tiff_reads_exactly_like_the_same_bilevel_png():
    data = group4(bilevel(1))
    image = load_image(data)
    assert (image.mode, image.info["compression"], tuple(round(v) for v in image.info["dpi"])) == (
        "1",
        "group4",
        (200, 200),
    )
    assert np.array_equal(preprocess(data, size=SIZE), preprocess(png_bytes(bilevel(1)), size=SIZE))
    grey = preprocess(png_bytes(draw_signature(1, size=(400, 200))), size=SIZE).astype(float)
    assert np.corrcoef(preprocess(data, size=SIZE).astype(float).ravel(), grey.ravel())[0, 1] > 0.9


def test_multi_page_tiff_uses_page_1_the_front():
    data = group4(bilevel(2), bilevel(3), Image.new("1", (400, 200), 0))
    assert Image.open(io.BytesIO(data)).n_frames == 3
    assert np.array_equal(preprocess(data, size=SIZE), preprocess(group4(bilevel(2)), size=SIZE))
    assert not np.array_equal(preprocess(data, size=SIZE), preprocess(group4(bilevel(3)), size=SIZE))


def as_palette(image):
    return image.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)


def with_transparent_paper(image):
    rgba = Image.new("RGBA", image.size, (0, 0, 0, 0))  # black where transparent: only compositing saves it
    rgba.putalpha(image.point(lambda v: 255 - v))
    return rgba


def palette_with_transparency(image):
    """The paper's palette entry is black and transparent: only compositing on white saves it."""
    palette = as_palette(image.convert("RGB"))
    paper_index = palette.getpixel((0, 0))
    colours = palette.getpalette()
    colours[3 * paper_index : 3 * paper_index + 3] = [0, 0, 0]
    palette.putpalette(colours)
    palette.info["transparency"] = paper_index
    return palette


@pytest.mark.parametrize(
    "variant",
    [
        lambda im: im,
        lambda im: im.convert("RGB"),
        as_palette,
        palette_with_transparency,
        with_transparent_paper,
        lambda im: with_transparent_paper(im).convert("LA"),
    ],
    ids=["greyscale", "rgb", "palette", "palette-transparent", "rgba-on-transparent", "la-on-transparent"],
)
def test_every_png_mode_reads_the_same_way(variant):
    base = draw_signature(4, size=(400, 200))
    reference = preprocess(png_bytes(base), size=SIZE).astype(float)
    image = variant(base)
    data = png_bytes(image)
    out = preprocess(data, size=SIZE).astype(float)
    assert np.abs(out - reference).mean() < 3.0, image.mode
