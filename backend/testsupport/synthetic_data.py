"""Drawn test data (no real data needed): a signature as an upload carries it (``signature_bytes``),
a whole cheque with a signature on it (``draw_cheque``: printed text, amount box, rules, a MICR-like
code line, as archives scan them) and a ``folders`` dataset tree (``write_folders_dataset``).

The signatures themselves are ``sigverify.synthetic_signatures.draw_signature``'s.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from sigverify.synthetic_signatures import draw_signature


def draw_cheque(
    writer: int = 1,
    sample: int = 0,
    forged: bool = False,
    size: tuple[int, int] = (1200, 550),
    code_line: bool = True,
    signature: Image.Image | None = None,
    signature_at: tuple[float, float] = (0.58, 0.56),
) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """(a greyscale whole-cheque scan, the pasted signature's x, y, width, height in it).

    The default size is a 6 x 2.75 inch cheque at 200 dpi, the cheque image exchange
    resolution; ``image.convert("1")`` makes it bilevel like an archived scan. ``signature``
    (greyscale, ink dark) is pasted as it is at ``signature_at`` (fractions of the size)
    instead of one drawn for ``writer``.
    """
    width, height = size
    cheque = Image.new("L", size, 255)
    draw = ImageDraw.Draw(cheque)
    font = ImageFont.load_default(size=max(10, height // 28))
    small = ImageFont.load_default(size=max(8, height // 40))
    draw.rectangle([2, 2, width - 3, height - 3], outline=120, width=2)  # the cheque's printed frame
    draw.text((0.04 * width, 0.05 * height), "FIRST EXAMPLE BANK", fill=30, font=font)
    draw.text((0.04 * width, 0.12 * height), "1 Main Street, Springfield", fill=60, font=small)
    draw.text((0.70 * width, 0.10 * height), "DATE  2026-12-01", fill=30, font=small)
    draw.text((0.04 * width, 0.30 * height), "PAY TO THE ORDER OF  Jane Example", fill=30, font=font)
    draw.line([(0.22 * width, 0.36 * height), (0.74 * width, 0.36 * height)], fill=60, width=2)
    draw.rectangle([0.78 * width, 0.27 * height, 0.96 * width, 0.38 * height], outline=40, width=3)  # amount box
    draw.text((0.80 * width, 0.29 * height), "$ 120.00", fill=20, font=font)
    draw.text((0.04 * width, 0.46 * height), "One hundred twenty and 00/100", fill=30, font=font)
    draw.line([(0.04 * width, 0.52 * height), (0.84 * width, 0.52 * height)], fill=60, width=2)
    draw.text((0.04 * width, 0.72 * height), "MEMO", fill=40, font=small)
    draw.line([(0.10 * width, 0.76 * height), (0.42 * width, 0.76 * height)], fill=60, width=2)
    draw.line([(0.56 * width, 0.78 * height), (0.94 * width, 0.78 * height)], fill=60, width=2)  # signature line
    if code_line:  # E-13B-like glyphs: blocky marks with gaps, 1/4 inch above the bottom edge
        rng = np.random.default_rng(99)
        top, glyph_h, glyph_w = int(0.86 * height), int(0.05 * height), max(4, width // 90)
        x = int(0.12 * width)
        while x < 0.80 * width:
            for _ in range(int(rng.integers(1, 4))):
                bar = int(rng.integers(2, glyph_w // 2 + 3))
                y0 = top + int(rng.integers(0, glyph_h // 3))
                draw.rectangle([x, y0, x + bar, top + glyph_h], fill=15)
                x += bar + 2
            x += glyph_w
            if rng.random() < 0.12:
                x += 3 * glyph_w  # the gaps between the fields
    x, y = int(signature_at[0] * width), int(signature_at[1] * height)
    if signature is None:
        signature = draw_signature(writer, sample, forged=forged, size=(int(0.32 * width), int(0.22 * height)))
    signature = signature.convert("L")
    box = (x, y, signature.width, signature.height)
    cheque.paste(
        Image.fromarray(
            np.minimum(
                np.asarray(cheque.crop((box[0], box[1], box[0] + box[2], box[1] + box[3]))), np.asarray(signature)
            )
        ),
        box[:2],
    )
    return cheque, box


def png_bytes(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    """The image encoded as ``fmt`` (PNG by default; ``kwargs`` go to Pillow's ``save``)."""
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def signature_bytes(writer: int, sample: int = 0, *, fmt: str = "PNG", **style) -> bytes:
    """``draw_signature(writer, sample, **style)`` encoded as ``fmt``: the bytes of an upload."""
    return png_bytes(draw_signature(writer, sample, **style), fmt)


def write_folders_dataset(root, writers: int = 4, genuine: int = 6, forged: int = 3, size=(300, 150)) -> Path:
    """A ``folders`` tree: <root>/<writer>/{genuine,forged}/<n>.png."""
    root = Path(root)
    for w in range(1, writers + 1):
        for label, count in (("genuine", genuine), ("forged", forged)):
            folder = root / f"w{w:02d}" / label
            folder.mkdir(parents=True, exist_ok=True)
            for n in range(1, count + 1):
                draw_signature(w, n, forged=label == "forged", size=size).save(folder / f"sig_{n}.png")
    return root
