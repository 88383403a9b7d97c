"""``require_ink``: the whole-page check behind "a blank page 1 is refused" (``apps.core.images``)."""

import pytest
from PIL import Image, ImageDraw

from sigverify.errors import BlankImageError
from sigverify.preprocess import require_ink


@pytest.mark.parametrize("mode", ["1", "L", "RGB", "RGBA"])
def test_a_blank_page_is_refused_in_every_mode(mode):
    with pytest.raises(BlankImageError) as refused:
        require_ink(Image.new(mode, (2400, 1100), "white"))
    assert refused.value.code == "no_ink"


@pytest.mark.parametrize("size", [(1200, 550), (6000, 2750)])
def test_a_thin_stroke_is_ink_even_on_a_page_reduced_first(size):
    """A one-pixel stroke survives the reduction of a large scan (the darkest pixel of each block)."""
    page = Image.new("L", size, 250)
    width, height = size
    ImageDraw.Draw(page).line([(width // 2, height // 2), (width // 2 + width // 5, height // 2 + 40)], fill=20)
    require_ink(page)  # no error


def test_transparent_ink_is_no_ink():
    page = Image.new("RGBA", (800, 400), (0, 0, 0, 0))  # black, but fully transparent: paper
    with pytest.raises(BlankImageError):
        require_ink(page)
