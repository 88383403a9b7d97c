"""A corpus of malformed and hostile uploads, generated here (nothing is copied from anywhere).

``build_corpus()`` returns the files in memory (the tests use it that way);
``python -m testsupport.bad_inputs --out ../var/bad_inputs`` (from backend/) writes them to
a git-ignored folder for manual probing, e.g. with curl.

Each ``BadInput`` says what the API must do with it:
- ``reject``: a 4xx in the common error format (optionally with one of ``codes``);
- ``legal``: a real image; a valid decision, or a clean 4xx when it holds no usable signature.
"""

from __future__ import annotations

import argparse
import gzip
import io
import random
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from sigverify.synthetic_signatures import draw_signature
from testsupport.synthetic_data import png_bytes

MAX_PIXELS_CLAIMED = 50_000


@dataclass(frozen=True)
class BadInput:
    name: str
    filename: str
    data: bytes
    expect: str  # "reject" or "legal"
    codes: tuple = field(default=())  # acceptable error codes for a rejection (empty: any 4xx)


def signature_image(sample: int = 0) -> Image.Image:
    """The legal signature the corpus breaks in many ways (greyscale, on off-white paper)."""
    return draw_signature(5, sample, size=(360, 160), paper=250, ink=15)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG with its SOF frame header patched to claim width x height."""
    data = bytearray(png_bytes(signature_image(), "JPEG", quality=80))
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = data.find(marker)
        if at >= 0:
            struct.pack_into(">HH", data, at + 5, height, width)
            return bytes(data)
    raise AssertionError("no SOF marker in the JPEG Pillow wrote")


def gif_claiming(width: int, height: int) -> bytes:
    """GIF header + image descriptor claiming width x height, with a one-pixel data stream."""
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    descriptor = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    return screen + descriptor + b"\x02\x02\x44\x01\x00" + b"\x3b"


def bmp_claiming(width: int, height: int) -> bytes:
    header = struct.pack("<2sIHHI", b"BM", 54 + 16, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 16, 2835, 2835, 0, 0)
    return header + info + b"\x00" * 16


def png_with_crc_error() -> bytes:
    data = bytearray(png_bytes(signature_image(), "PNG"))
    at = data.find(b"IDAT")
    length = struct.unpack(">I", data[at - 4 : at])[0]
    data[at + 4 + length] ^= 0xFF  # first byte of the IDAT CRC
    return bytes(data)


def png_with_text_bomb() -> bytes:
    """A valid PNG carrying a zTXt chunk that inflates to 4 MB (Pillow stops at 1 MB)."""
    data = png_bytes(signature_image(), "PNG")
    body = b"Comment\x00\x00" + zlib.compress(b"A" * (4 * 1024 * 1024), 6)
    end = data.rfind(b"IEND") - 4
    return data[:end] + _png_chunk(b"zTXt", body) + data[end:]


def jpeg_with_exif(orientation: int | None = None, comment_bytes: int = 0) -> bytes:
    image = signature_image().convert("RGB")
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if comment_bytes:
        exif[0x9286] = b"ASCII\x00\x00\x00" + b"X" * comment_bytes  # UserComment
        exif[0x010E] = "D" * 2000  # ImageDescription
    return png_bytes(image, "JPEG", exif=exif.tobytes(), quality=85)


def animated_gif() -> bytes:
    frames = [signature_image(sample=i).convert("P") for i in range(3)]
    return png_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def tiff_16bit() -> bytes:
    import numpy as np

    grey = np.asarray(signature_image(), dtype=np.uint16) * 257
    return png_bytes(Image.fromarray(grey), "TIFF")  # uint16 -> mode I;16


def transparent_png() -> bytes:
    image = signature_image().convert("RGBA")
    image.putalpha(0)  # the strokes are there, but nothing is visible
    return png_bytes(image, "PNG")


def noise_png(size=(400, 200)) -> bytes:
    rng = random.Random(7)
    return png_bytes(Image.frombytes("L", size, bytes(rng.getrandbits(8) for _ in range(size[0] * size[1]))), "PNG")


def blank_cheque_png(size=(1200, 550)) -> bytes:
    """A whole cheque-sized page with no ink at all (off-white paper)."""
    return png_bytes(Image.new("L", size, 250), "PNG")


def tiff_blank_first_page() -> bytes:
    """A group 4 multi-page TIFF whose page 1 (the front) is blank and page 2 a drawn cheque."""
    from testsupport.synthetic_data import draw_cheque

    cheque, _ = draw_cheque(1, 9)
    blank = Image.new("L", cheque.size, 255).convert("1")
    buffer = io.BytesIO()
    blank.save(buffer, format="TIFF", compression="group4", save_all=True, append_images=[cheque.convert("1")])
    return buffer.getvalue()


def whole_cheque_bad_inputs() -> list[BadInput]:
    """What every endpoint taking a whole cheque must refuse with a 4xx, storing nothing."""
    return [
        BadInput("cheque_no_ink", "blank.png", blank_cheque_png(), "reject", ("no_ink",)),
        BadInput("cheque_over_pixel_limit", "big.png", png_claiming(8_000, 8_000), "reject", ("too_many_pixels",)),
        BadInput("tiff_first_page_blank", "cheque.tif", tiff_blank_first_page(), "reject", ("no_ink",)),
    ]


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("signature.png", png_bytes(signature_image(), "PNG"))
    return buffer.getvalue()


def build_corpus() -> list[BadInput]:
    good_png = png_bytes(signature_image(), "PNG")
    good_jpeg = png_bytes(signature_image().convert("RGB"), "JPEG", quality=85)
    big = MAX_PIXELS_CLAIMED
    too_many = ("too_many_pixels",)
    broken = ("truncated_image", "not_an_image")
    html = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>\n"
    svg = (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="300" height="150">'
        b'<script>alert(1)</script><path d="M10 80 C 40 10, 65 10, 95 80 S 150 150, 180 80" stroke="black"/></svg>'
    )
    pdf = (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R/OpenAction<</S/JavaScript/JS(app.alert(1))>>>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n(hostile) print quit\n"
    corpus = [
        BadInput("zero_bytes", "empty.png", b"", "reject", ("empty_file",)),
        BadInput("truncated_png_half", "cut.png", good_png[: len(good_png) // 2], "reject", broken),
        BadInput("truncated_png_header_only", "header.png", good_png[:33], "reject", broken),
        BadInput("truncated_jpeg_half", "cut.jpg", good_jpeg[: len(good_jpeg) // 2], "reject", broken),
        BadInput("jpeg_markers_only", "markers.jpg", b"\xff\xd8\xff\xd9", "reject", broken),
        BadInput("text_named_png", "note.png", b"this is not an image, only text\n" * 8, "reject", ("not_an_image",)),
        BadInput("svg_with_script", "signature.svg", svg, "reject", ("not_an_image",)),
        BadInput("svg_named_png", "signature.png", svg, "reject", ("not_an_image",)),
        BadInput("pdf_with_javascript", "cheque.pdf", pdf, "reject", ("not_an_image",)),
        BadInput("html_named_jpg", "signature.jpg", html, "reject", ("not_an_image",)),
        BadInput("eps_postscript", "signature.eps", eps, "reject", ("not_an_image",)),
        BadInput(
            "polyglot_gif_javascript",
            "poly.gif",
            b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=alert(1);//" + html,
            "reject",
            broken,
        ),
        BadInput("polyglot_png_with_html_tail", "poly.png", good_png + html, "legal"),
        BadInput("polyglot_jpeg_with_zip_tail", "poly.jpg", good_jpeg + zip_bytes(), "legal"),
        BadInput("bomb_png_50000x50000", "bomb.png", png_claiming(big, big), "reject", too_many),
        BadInput("bomb_jpeg_50000x50000", "bomb.jpg", jpeg_claiming(big, big), "reject", too_many),
        BadInput("bomb_gif_65535x65535", "bomb.gif", gif_claiming(65535, 65535), "reject", too_many),
        BadInput("bomb_bmp_50000x50000", "bomb.bmp", bmp_claiming(big, big), "reject", too_many + broken),
        BadInput("bomb_png_ztxt_4mb", "textbomb.png", png_with_text_bomb(), "legal"),
        BadInput(
            "strip_1x10000",
            "strip.png",
            png_bytes(Image.new("L", (1, 10_000), 0), "PNG"),
            "reject",
            ("bad_aspect_ratio",),
        ),
        BadInput(
            "strip_10000x1",
            "strip-wide.png",
            png_bytes(Image.new("L", (10_000, 1), 0), "PNG"),
            "reject",
            ("bad_aspect_ratio",),
        ),
        BadInput("one_pixel", "dot.png", png_bytes(Image.new("L", (1, 1), 0), "PNG"), "reject"),
        BadInput("tiff_16bit", "scan16.tif", tiff_16bit(), "legal"),
        BadInput("jpeg_cmyk", "cmyk.jpg", png_bytes(signature_image().convert("CMYK"), "JPEG", quality=90), "legal"),
        BadInput("gif_animated", "anim.gif", animated_gif(), "legal"),
        BadInput("jpeg_huge_exif", "exif.jpg", jpeg_with_exif(comment_bytes=60_000), "legal"),
        BadInput("jpeg_exif_rotated", "rotated.jpg", jpeg_with_exif(orientation=8), "legal"),
        BadInput("jpeg_exif_orientation_invalid", "orient.jpg", jpeg_with_exif(orientation=42), "legal"),
        BadInput("all_white", "white.png", png_bytes(Image.new("L", (400, 200), 255), "PNG"), "reject", ("no_ink",)),
        BadInput("all_black", "black.png", png_bytes(Image.new("L", (400, 200), 0), "PNG"), "reject", ("no_ink",)),
        BadInput("pure_noise", "noise.png", noise_png(), "legal"),
        BadInput("transparent_png", "clear.png", transparent_png(), "legal"),
        BadInput("png_crc_error", "crc.png", png_with_crc_error(), "legal"),
        BadInput(
            "random_bytes_png_magic",
            "magic.png",
            b"\x89PNG\r\n\x1a\n" + random.Random(3).randbytes(600),
            "reject",
            broken,
        ),
        BadInput("gzip_named_png", "packed.png", gzip.compress(good_png), "reject", ("not_an_image",)),
        BadInput("zip_named_jpg", "archive.jpg", zip_bytes(), "reject", ("not_an_image",)),
        BadInput(
            "windows_exe_named_png",
            "setup.png",
            b"MZ\x90\x00" + b"\x00" * 60 + b"This program cannot be run",
            "reject",
            ("not_an_image",),
        ),
        BadInput("path_traversal_name", "../../../../etc/cron.d/evil.png", good_png, "legal"),
        BadInput("webp_signature", "sig.webp", png_bytes(signature_image(), "WEBP", quality=90), "legal"),
        BadInput("palette_png", "palette.png", png_bytes(signature_image().convert("P"), "PNG"), "legal"),
    ]
    names = [item.name for item in corpus]
    assert len(names) == len(set(names)), "corpus names must be unique"
    return corpus


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Write the bad-input corpus to a folder.")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "var" / "bad_inputs")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    corpus = build_corpus()
    for item in corpus:
        suffix = Path(item.filename).suffix or ".bin"
        (args.out / f"{item.name}{suffix}").write_bytes(item.data)
    print(f"wrote {len(corpus)} files to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
