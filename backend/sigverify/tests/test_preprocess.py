import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from sigverify import errors
from sigverify.preprocess import PREPROCESS_VERSION, load_image, otsu_threshold, preprocess, preprocess_with_quality
from sigverify.synthetic_signatures import draw_signature
from testsupport.synthetic_data import png_bytes

SIZE = (64, 96)


def encode(image, fmt="PNG", **kw):
    return png_bytes(image, fmt, **kw)


def test_output_shape_dtype_and_ink_bright_on_zero():
    out = preprocess(encode(draw_signature(1)), size=SIZE)
    assert out.shape == SIZE and out.dtype == np.uint8
    assert out.max() > 180  # strongest ink stretched towards full scale
    assert np.median(out) == 0  # background is zero
    assert 0.01 < (out > 64).mean() < 0.5


def test_deterministic_and_versioned():
    data = encode(draw_signature(3))
    assert np.array_equal(preprocess(data, size=SIZE), preprocess(data, size=SIZE))
    assert isinstance(PREPROCESS_VERSION, str) and PREPROCESS_VERSION


@pytest.mark.parametrize("paper", [239, 200, 180])
def test_grey_and_white_paper_give_the_same_array(paper):
    """CEDAR's trap: genuine on grey paper, forgeries on white. The model must not see it."""
    rng = np.random.default_rng(0)
    white = np.asarray(draw_signature(5, paper=254, ink=30), dtype=np.float32)
    grey = white.copy()
    grey[white > 128] = paper  # same strokes, other paper
    grey += rng.normal(0, 2.0, grey.shape) * (white > 128)  # scanner noise on the paper only
    a = preprocess(encode(Image.fromarray(white.clip(0, 255).astype(np.uint8))), size=SIZE).astype(float)
    b = preprocess(encode(Image.fromarray(grey.clip(0, 255).astype(np.uint8))), size=SIZE).astype(float)
    assert np.abs(a - b).mean() < 2.0  # grey levels out of 255
    assert np.abs(a - b).max() <= 64


@pytest.mark.parametrize(
    "mode,fmt",
    [("RGB", "JPEG"), ("RGBA", "PNG"), ("L", "BMP"), ("1", "PNG"), ("L", "TIFF"), ("RGB", "TIFF"), ("P", "PNG")],
)
def test_formats_and_modes(mode, fmt):
    base = draw_signature(2, mode="RGB", paper=(250, 248, 240), ink=(10, 20, 90))
    image = base.convert(mode)
    out = preprocess(encode(image, fmt), size=SIZE)
    ref = preprocess(encode(base.convert("L")), size=SIZE).astype(float)
    assert out.shape == SIZE
    assert np.corrcoef(out.astype(float).ravel(), ref.ravel())[0, 1] > 0.7


def test_sixteen_bit_grey():
    arr = np.asarray(draw_signature(4), dtype=np.uint16) * 257
    image = Image.fromarray(arr)  # mode I;16
    assert image.mode.startswith("I;16")
    out = preprocess(encode(image), size=SIZE)
    ref = preprocess(encode(draw_signature(4)), size=SIZE)
    assert np.abs(out.astype(int) - ref.astype(int)).mean() < 3


def test_transparent_background_is_paper():
    rgba = Image.new("RGBA", (300, 150), (0, 0, 0, 0))
    strokes = draw_signature(6).point(lambda v: 255 - v)  # ink as alpha
    rgba.putalpha(strokes)
    out = preprocess(encode(rgba), size=SIZE)
    assert np.median(out) == 0 and out.max() > 200


def test_exif_orientation_is_honoured():
    upright = draw_signature(7, size=(300, 150))
    stored = upright.rotate(90, expand=True)  # what a phone writes, with Orientation=6 to undo it
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(stored, "JPEG", exif=exif.tobytes(), quality=95)
    assert load_image(data).size == (300, 150)
    out = preprocess(data, size=SIZE).astype(float)
    ref = preprocess(encode(upright, "JPEG", quality=95), size=SIZE).astype(float)
    assert np.corrcoef(out.ravel(), ref.ravel())[0, 1] > 0.8


def test_crop_selects_the_box():
    cheque = Image.new("L", (900, 400), 250)
    cheque.paste(draw_signature(8), (550, 200))
    out = preprocess(encode(cheque), size=SIZE, crop=(540, 190, 320, 170))
    ref = preprocess(encode(draw_signature(8)), size=SIZE)
    assert np.corrcoef(out.astype(float).ravel(), ref.astype(float).ravel())[0, 1] > 0.9
    with pytest.raises(errors.CropError):
        preprocess(encode(cheque), size=SIZE, crop=(800, 300, 500, 500))


def test_quality_info():
    _, q = preprocess_with_quality(encode(draw_signature(1)), size=SIZE)
    d = q.as_dict()
    assert d["width"] == 300 and d["height"] == 150 and 0 < d["ink_fraction"] < 0.3
    assert d["preprocess_version"] == PREPROCESS_VERSION


def test_otsu_separates_two_levels():
    arr = np.r_[np.full(500, 30.0), np.full(1500, 220.0)]
    assert 30 < otsu_threshold(arr) < 220


def bomb_png(width=50_000, height=50_000) -> bytes:
    """A tiny PNG whose header claims a huge image."""

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "data,error",
    [
        (b"", errors.EmptyFileError),
        (b"hello, this is text named .png", errors.NotAnImageError),
        (encode(draw_signature(1))[:300], errors.TruncatedImageError),
        (bomb_png(), errors.ImageTooLargeError),
        (encode(Image.new("L", (4000, 100), 255)), errors.AspectRatioError),
        (encode(Image.new("L", (300, 150), 255)), errors.BlankImageError),
        (encode(Image.new("L", (300, 150), 0)), errors.BlankImageError),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", errors.NotAnImageError),
        (b"%PDF-1.4\n1 0 obj\n", errors.NotAnImageError),
    ],
    ids=["empty", "text", "truncated", "bomb", "strip", "blank", "black", "svg", "pdf"],
)
def test_bad_input_raises_one_typed_error(data, error):
    with pytest.raises(error) as info:
        preprocess(data, size=SIZE)
    assert info.value.message and info.value.code


@pytest.mark.parametrize("side", [12_000, 50_000])  # past Pillow's warning, and past its error
def test_too_many_pixels_is_said_in_the_products_words_not_pillows(side):
    with pytest.raises(errors.ImageTooLargeError) as info:
        preprocess(bomb_png(side, side), size=SIZE)
    assert info.value.message == f"the image has {side * side:,} pixels, more than the limit of 40,000,000"
    assert "decompression" not in info.value.message.lower()


def test_noise_is_refused_as_no_signature():
    noise = np.random.default_rng(1).integers(0, 256, (150, 300), dtype=np.uint8)
    with pytest.raises(errors.ImageRejected):
        preprocess(encode(Image.fromarray(noise)), size=SIZE)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_escape_untyped(data):
    try:
        out = preprocess(data, size=SIZE)
    except errors.ImageRejected:
        return
    assert out.shape == SIZE


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**31 - 1),
    st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"BM"]),
)
def test_corrupted_real_images_are_typed(seed, magic):
    good = bytearray(encode(draw_signature(seed % 50), "PNG"))
    rng = np.random.default_rng(seed)
    for pos in rng.integers(8, len(good), 8):
        good[pos] = rng.integers(0, 256)
    try:
        preprocess(bytes(good), size=SIZE)
    except errors.ImageRejected:
        pass
    try:
        preprocess(magic + bytes(good[8:200]), size=SIZE)
    except errors.ImageRejected:
        pass


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (6, 1), (2, 2), (13, 29), (64, 48)])
def test_median3_equals_pillows_median_filter_edges_included(shape):
    from PIL import ImageFilter

    from sigverify.preprocess import median3

    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    for image in (
        rng.integers(0, 256, shape, dtype=np.uint8),
        (rng.random(shape) < 0.3).astype(np.uint8) * 255,  # salt noise on paper, what the filter is for
        np.full(shape, 7, dtype=np.uint8),
    ):
        expected = np.asarray(Image.fromarray(image).filter(ImageFilter.MedianFilter(3)))
        np.testing.assert_array_equal(median3(image), expected)
