"""The drag box's geometry (canvas <-> scan pixels) and how uploaded images are shown."""

import io

import numpy as np
import pytest
from PIL import Image

import signature_box as sb
import ui_common
from sigverify.synthetic_signatures import draw_signature


def test_proposed_box_round_trips_through_the_canvas():
    size = (2400, 1100)
    scale = sb.canvas_scale(size[0])
    assert scale == 900 / 2400
    box = (1390, 612, 777, 260)
    assert sb.box_from_drawing({"objects": [sb.rect_object(box, scale)]}, scale, size) == box


def test_last_usable_rectangle_wins_in_scan_pixels_whatever_its_origin():
    scale = 0.5
    drawing = {
        "objects": [
            {"type": "rect", "left": 10, "top": 10, "width": 100, "height": 50, "originX": "left", "originY": "top"},
            # Fabric 7's default origin is the centre; a resized rectangle keeps its width and gets a scale.
            {
                "type": "Rect",
                "left": 300,
                "top": 200,
                "width": 100,
                "height": 40,
                "scaleX": 1.5,
                "scaleY": 2,
                "originX": "center",
                "originY": "center",
            },
            {
                "type": "Rect",
                "left": 50,
                "top": 50,
                "width": 2,
                "height": 1,
                "originX": "left",
                "originY": "top",
            },  # a click
            {"type": "path", "left": 0, "top": 0, "width": 500, "height": 500},
        ]
    }
    assert sb.box_from_drawing(drawing, scale, (2000, 1000)) == (450, 320, 300, 160)
    assert sb.box_from_drawing({"objects": []}, scale, (2000, 1000)) is None
    assert sb.box_from_drawing(None, scale, (2000, 1000)) is None


@pytest.mark.parametrize(
    "box, clipped",
    [
        ((1500, 600, 1000, 500), (1500, 600, 100, 100)),
        ((-20, -5, 50, 40), (0, 0, 50, 40)),
        ((1700, 800, 10, 10), (1599, 699, 1, 1)),
    ],
)
def test_boxes_are_clipped_into_the_scan(box, clipped):
    assert sb.clip_box(box, 1600, 700) == clipped


def encode(image, fmt="PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def strokes(size=(300, 120)) -> Image.Image:
    return draw_signature(1, size=size, ink=0, pen=5)


def test_group4_tiff_is_shown_as_greyscale():
    picture = ui_common.open_picture(encode(strokes().convert("1"), "TIFF", compression="group4", dpi=(200, 200)))
    assert picture.mode == "L" and picture.size == (300, 120)
    assert np.array_equal(np.asarray(picture), np.asarray(strokes().convert("1").convert("L")))


def test_multi_page_tiff_shows_page_1_the_front():
    front, back = strokes().convert("1"), Image.new("1", (300, 120), 0)
    data = encode(front, "TIFF", compression="group4", save_all=True, append_images=[back])
    assert np.array_equal(np.asarray(ui_common.open_picture(data)), np.asarray(front.convert("L")))


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_transparent_paper_is_shown_white(mode):
    rgba = Image.new("RGBA", (300, 120), (0, 0, 0, 0))
    rgba.putalpha(strokes().point(lambda v: 255 - v))  # black ink, and black paper made transparent
    image = rgba.convert(mode) if mode != "P" else rgba.convert("P", palette=Image.Palette.ADAPTIVE)
    if mode == "P":
        image.info["transparency"] = image.getpixel((0, 0))
    picture = ui_common.open_picture(encode(image))
    grey = np.asarray(picture.convert("L"))
    assert picture.mode in ("L", "RGB") and np.median(grey) > 240 and grey.min() < 60


def test_what_pillow_cannot_read_is_not_shown():
    assert ui_common.open_picture(b"not an image") is None
