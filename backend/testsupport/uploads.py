"""Uploaded files for API tests: a file as Django receives it, the known bad uploads, and what
lies under MEDIA_ROOT (to check that nothing is half-stored)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from testsupport.synthetic_data import png_bytes, signature_bytes

from .bad_inputs import png_claiming


def upload(data: bytes, name: str = "signature.png", content_type: str = "image/png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


def blank_png(size=(300, 150)) -> bytes:
    """A white page: an image without any ink."""
    return png_bytes(Image.new("L", size, 255))


BAD_UPLOADS = {
    # name: (filename, expected error code)
    "zero_bytes": ("empty.png", "empty_file"),
    "text_named_png": ("note.png", "not_an_image"),
    "truncated_png": ("cut.png", "truncated_image"),
    "decompression_bomb": ("bomb.png", "too_many_pixels"),
    "blank_page": ("blank.png", "no_ink"),
}


def bad_upload(kind: str) -> tuple[bytes, str, str]:
    """(bytes, filename, the error code the API must answer) of one of ``BAD_UPLOADS``."""
    name, code = BAD_UPLOADS[kind]
    if kind == "zero_bytes":
        data = b""
    elif kind == "text_named_png":
        data = b"this is not an image, just text\n" * 4
    elif kind == "truncated_png":
        full = signature_bytes(7, 0)
        data = full[: len(full) // 2]
    elif kind == "decompression_bomb":
        data = png_claiming(50_000, 50_000)
    else:
        data = blank_png()
    return data, name, code


def media_files(root) -> set[str]:
    """Every file under ``root``, relative to it."""
    root = Path(root)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()
