"""The domain's one error type, ``ServiceError``, and the one error format of the whole API,
``{"error": {"code", "message", "fields"}}``, into which ``api_exception_handler`` turns it
(and DRF's own errors; ``middleware.ApiNotFoundMiddleware`` does it for unknown ``/api/`` URLs).

Services raise ``ServiceError`` and know nothing of DRF; ``http_status`` is only the status
the API answers it with.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class ServiceError(Exception):
    """A business rule refused the request; subclasses set the status, code and message."""

    http_status = 400
    default_code = "bad_request"
    default_message = "The request cannot be processed."

    def __init__(self, message: str | None = None, code: str | None = None, fields: dict | None = None):
        self.message = message or self.default_message
        self.code = code or self.default_code
        self.fields = fields or {}
        super().__init__(self.message)


class InvalidRequest(ServiceError):
    """Input a service refuses, with a message per field (as DRF's validation errors have)."""

    http_status = 400
    default_code = "validation_error"

    def __init__(self, fields: dict, message: str | None = None):
        fields = {k: [v] if isinstance(v, str) else v for k, v in fields.items()}
        super().__init__(message or _first_message(fields) or "Invalid input.", fields=fields)


class NotFound(ServiceError):
    http_status = 404
    default_code = "not_found"
    default_message = "Not found."


class Conflict(ServiceError):
    http_status = 409
    default_code = "conflict"
    default_message = "The request conflicts with the current state."


class RequestTooLarge(ServiceError):
    http_status = 413
    default_code = "request_too_large"


def body_too_large(length: int | None, limit_bytes: int, what: str = "request body") -> RequestTooLarge:
    size = f" is {length / 1048576:.1f} MB," if length else ""
    return RequestTooLarge(f"The {what}{size} more than the limit of {limit_bytes / 1048576:g} MB.")


class ServiceUnavailable(ServiceError):
    http_status = 503
    default_code = "service_unavailable"
    default_message = "The service is temporarily unavailable."


class InvalidImage(ServiceError):
    """An uploaded image was refused; ``code`` is the sigverify reason (empty_file, no_ink, ...)."""

    http_status = 400
    default_code = "invalid_image"
    default_message = "The image cannot be used."


def _flatten(detail):
    """DRF error detail -> plain JSON (lists of messages per field)."""
    if isinstance(detail, dict):
        return {str(k): _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_flatten(v) for v in detail]
    return str(detail)


def _first_message(fields) -> str:
    if isinstance(fields, dict):
        for key, value in fields.items():
            message = _first_message(value)
            if message:
                return message if key == "non_field_errors" else f"{key}: {message}"
    if isinstance(fields, list):
        for value in fields:
            message = _first_message(value)
            if message:
                return message
    if isinstance(fields, str):
        return fields
    return ""


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def api_exception_handler(exc, context):
    """DRF's ``EXCEPTION_HANDLER``: every error a view raises, in the one format."""
    if isinstance(exc, RequestDataTooBig):  # Django's own body limit: 413 naming it, not a 500
        length = int(context["request"].META.get("CONTENT_LENGTH") or 0) if context.get("request") else 0
        exc = body_too_large(length, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if isinstance(exc, ServiceError):
        return Response(error_body(exc.code, exc.message, _flatten(exc.fields)), status=exc.http_status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        # Unexpected: log it with the traceback, answer JSON without leaking internals.
        logger.exception("unhandled error in %s", context.get("view").__class__.__name__, exc_info=exc)
        return Response(
            error_body("internal_error", "An unexpected error occurred; it has been logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        if not isinstance(fields, dict):
            fields = {"non_field_errors": fields if isinstance(fields, list) else [fields]}
        message = _first_message(fields) or "Invalid input."
        body = error_body("validation_error", message, fields)
    else:
        codes = exc.get_codes() if hasattr(exc, "get_codes") else None
        code = codes if isinstance(codes, str) else getattr(exc, "default_code", "error")
        detail = exc.detail if hasattr(exc, "detail") else str(exc)
        body = error_body(code, str(detail))
    response.data = body
    return response
