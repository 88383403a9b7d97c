"""Admin-only image views: thumbnails and originals streamed to staff, never via MEDIA_URL."""

from __future__ import annotations

import io

import numpy as np
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.utils.html import format_html
from PIL import Image, ImageOps

from sigverify.preprocess import DECODERS, to_greyscale

from .files import read_stored

THUMBNAIL_SIZE = (240, 120)


def thumbnail_png(data: bytes, size=THUMBNAIL_SIZE) -> bytes:
    """A small greyscale PNG of page 1, read as the model reads it: transparency on white,
    bilevel (CCITT group 4) scans averaged to grey rather than thinned by nearest-pixel."""
    image = Image.open(io.BytesIO(data), formats=DECODERS)
    image.draft("L", size)  # JPEG: decode at reduced size
    image = ImageOps.exif_transpose(image)
    if image.mode in ("1", "P", "PA"):  # resampled as is, these keep one pixel in many
        image = image.convert("RGBA" if image.mode != "1" else "L")
    image.thumbnail(size)
    out = io.BytesIO()
    Image.fromarray(to_greyscale(image).astype(np.uint8), mode="L").save(out, format="PNG")
    return out.getvalue()


def image_view(request, obj, permission: str, content_type: str):
    """The stored image of ``obj`` (``?thumb=1``: a small PNG) for users holding ``permission``."""
    if not request.user.has_perm(permission):
        raise PermissionDenied
    if obj is None:
        raise Http404
    try:
        data = read_stored(obj.image.name)
    except Exception as exc:
        raise Http404("image missing") from exc
    if request.GET.get("thumb"):
        try:
            return _private(HttpResponse(thumbnail_png(data), content_type="image/png"))
        except Exception as exc:  # an image the thumbnailer cannot read
            raise Http404("cannot make a thumbnail") from exc
    return _private(HttpResponse(data, content_type=content_type or "application/octet-stream"))


def _private(response):
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def img_tag(url: str, height: int = 60):
    return format_html(
        '<a href="{}" target="_blank"><img src="{}?thumb=1" style="max-height:{}px;border:1px solid #ccc" alt="signature"></a>',
        url,
        url,
        height,
    )
