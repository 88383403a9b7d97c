"""Streaming stored images to authorised users only (media is never served publicly)."""

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse
from rest_framework.exceptions import NotFound

from .images import array_to_png


def stored_file_response(name: str, content_type: str = "") -> FileResponse:
    try:
        handle = default_storage.open(name, "rb")
    except (FileNotFoundError, OSError):
        raise NotFound("the image file is missing from storage") from None
    response = FileResponse(handle, content_type=content_type or "application/octet-stream")
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def png_response(array) -> HttpResponse:
    response = HttpResponse(array_to_png(array), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


def read_stored(name: str) -> bytes:
    try:
        with default_storage.open(name, "rb") as fh:
            return fh.read()
    except (FileNotFoundError, OSError):
        raise NotFound("the image file is missing from storage") from None
