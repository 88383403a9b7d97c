"""Stored files: a row saved with its file (both or neither), and streaming stored images to
authorised users only (media is never served publicly)."""

import logging
import time

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse
from rest_framework.exceptions import NotFound

from .images import array_to_png

logger = logging.getLogger(__name__)


def delete_quietly(name: str | None) -> None:
    """Remove a stored file that no row will refer to; a failure is logged (the orphan sweep finds it)."""
    if name:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not remove %s, which no row refers to", name)


def save_with_file(row, field: str, filename: str, data: bytes, started: float | None = None):
    """Store ``data`` as ``row.<field>`` (named ``filename`` under the field's folder) and save ``row``:
    if the row is not saved, the file is removed. ``started`` (a perf_counter): ``row.processing_ms``
    is set to the time since, the storing included. The row is one INSERT (its callers' models have
    no parent table and no signal handler), atomic by itself: no transaction of its own around it
    (in autocommit, that was a BEGIN and a COMMIT more per request)."""
    stored = None
    try:
        getattr(row, field).save(filename, ContentFile(data), save=False)
        stored = getattr(row, field).name
        if started is not None:
            row.processing_ms = max(1, round(1000 * (time.perf_counter() - started)))
        row.save()
    except BaseException:
        delete_quietly(stored)
        raise
    return row


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
