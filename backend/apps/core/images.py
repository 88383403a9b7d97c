"""Reading uploaded images safely and turning preprocessed arrays into PNGs.

Every refusal is an ``InvalidImage`` API error whose code is the sigverify reason
(``empty_file``, ``not_an_image``, ``truncated_image``, ``too_many_pixels``, ``no_ink``,
``bad_crop``, ...) or ``file_too_large`` for the byte limit checked here.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
from django.conf import settings
from PIL import Image

from sigverify.errors import BlankImageError, ImageRejected, NotAnImageError
from sigverify.preprocess import load_image, preprocess_image, require_ink

from .exceptions import InvalidImage

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"II*\x00", "image/tiff", "tif"),
    (b"MM\x00*", "image/tiff", "tif"),
    (b"BM", "image/bmp", "bmp"),
    (b"GIF87a", "image/gif", "gif"),
    (b"GIF89a", "image/gif", "gif"),
)


def max_upload_bytes() -> int:
    return int(settings.SIGVERIFY_MAX_UPLOAD_MB) * 1024 * 1024


def read_upload(uploaded) -> bytes:
    """All bytes of an uploaded file, refusing files over the configured size."""
    limit = max_upload_bytes()
    size = getattr(uploaded, "size", None)
    if size is not None and size > limit:
        raise InvalidImage(
            f"the file is {size / 1048576:.1f} MB, more than the limit of {settings.SIGVERIFY_MAX_UPLOAD_MB} MB",
            code="file_too_large",
        )
    uploaded.seek(0)
    data = uploaded.read(limit + 1)
    if len(data) > limit:
        raise InvalidImage(
            f"the file is larger than the limit of {settings.SIGVERIFY_MAX_UPLOAD_MB} MB", code="file_too_large"
        )
    return data


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sniff_image_type(data: bytes) -> tuple[str, str]:
    """(content type, file extension) from the leading bytes; octet-stream when unknown."""
    for magic, content_type, extension in _SIGNATURES:
        if data.startswith(magic):
            return content_type, extension
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    return "application/octet-stream", "bin"


def content_type_for_name(name: str) -> str:
    """Content type from the extension services gave a stored file."""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    for _, content_type, known in _SIGNATURES:
        if known == extension:
            return content_type
    return "image/webp" if extension == "webp" else "application/octet-stream"


def preprocess_bytes(data: bytes, input_size: tuple[int, int], crop=None):
    """(uint8 array as the model sees it, quality dict). Raises ``InvalidImage``.

    One decode (``decode_bytes``: the pixel limit from the header, a blank page 1 refused), then
    the crop preprocessed.
    """
    return preprocess_decoded(decode_bytes(data), input_size, crop=crop)


def preprocess_decoded(image: Image.Image, input_size: tuple[int, int], crop=None):
    """``preprocess_bytes`` of an image ``decode_bytes`` gave (a whole cheque searched for its
    signature first is not decoded twice). Raises ``InvalidImage``."""
    try:
        try:
            array, quality = preprocess_image(image, size=tuple(input_size), crop=crop)
        except ImageRejected:
            raise
        except Exception as exc:  # decoder/array corner cases still come out typed
            raise NotAnImageError(f"the image could not be processed: {exc}") from exc
    except ImageRejected as exc:
        raise InvalidImage(_sentence(_on_page_one(exc, image)), code=exc.code) from exc
    return array, quality.as_dict()


def decode_bytes(data: bytes) -> Image.Image:
    """The decoded image (page 1 of a multi-page TIFF, EXIF orientation applied), with the
    same checks as a verification. Raises ``InvalidImage``.

    The product's rule for whole pages, here for verifications, signature regions, cheques and
    enrolment alike: page 1 is the front (as view side 0 of a clearing file), and a front with no
    ink is refused (``no_ink``, the message naming page 1 of a multi-page file) rather than
    searched for a signature or replaced by a later page (the back holds endorsements).
    """
    image = None
    try:
        image = load_image(data, max_pixels=int(settings.SIGVERIFY_MAX_PIXELS))
        require_ink(image)
    except ImageRejected as exc:
        raise InvalidImage(_sentence(_on_page_one(exc, image)), code=exc.code) from exc
    return image


def _on_page_one(exc: ImageRejected, image) -> str:
    pages = image.info.get("pages", 1) if image is not None else 1
    if isinstance(exc, BlankImageError) and pages > 1:
        return f"page 1 (the front) of this {pages}-page file is the page checked, and {exc.message}"
    return exc.message


def cropped_png(data: bytes, crop) -> bytes:
    """The ``crop`` box ([x, y, width, height]) of an image as PNG, pixels unchanged: preprocessing
    it gives what preprocessing the whole image with ``crop`` gives. Raises ``InvalidImage``."""
    image = decode_bytes(data)
    x, y, width, height = (int(v) for v in crop)
    if x < 0 or y < 0 or width <= 0 or height <= 0 or x + width > image.width or y + height > image.height:
        raise InvalidImage(f"The crop box {x},{y},{width},{height} is not inside the image.", code="bad_crop")
    box = image.crop((x, y, x + width, y + height))
    if box.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
        box = box.convert("RGB")  # PNG cannot hold CMYK or YCbCr
    buffer = io.BytesIO()
    box.save(buffer, format="PNG")
    return buffer.getvalue()


def _sentence(message: str) -> str:
    message = message.strip()
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def array_to_png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def parse_crop(value) -> list[int] | None:
    """``"x,y,w,h"``, ``"[x, y, w, h]"`` or a 4-list -> [x, y, w, h]; None when empty.

    Raises ValueError with a readable message.
    """
    if value in (None, "", []):
        return None
    if isinstance(value, str):
        text = value.strip().strip("[]()")
        parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p != ""]
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:  # a number or an object in a JSON body
        parts = []
    if len(parts) != 4:
        raise ValueError("crop must be four integers: x, y, width, height (e.g. 120,40,600,180)")
    try:
        numbers = [int(float(p)) if float(p).is_integer() else None for p in parts]
    except (TypeError, ValueError):
        raise ValueError("crop must be four integers: x, y, width, height (e.g. 120,40,600,180)") from None
    if any(n is None for n in numbers):
        raise ValueError("crop values must be whole pixels")
    x, y, width, height = numbers
    if x < 0 or y < 0 or width <= 0 or height <= 0:
        raise ValueError("crop needs x, y >= 0 and a positive width and height")
    return numbers
