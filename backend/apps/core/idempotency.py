"""``Idempotency-Key``: a retried POST gets the first answer back, never a second row.

The key is scoped to the caller (unique per user and key) and its first successful answer is
kept for ``SIGVERIFY_IDEMPOTENCY_KEEP_HOURS`` (at least 24). How retries are made safe:

- the key row is inserted first, in the same transaction as the work itself. A concurrent
  retry blocks on the unique (user, key) index until the first request ends: if it committed,
  the retry replays its answer; if it failed, its transaction (key row included) is gone and
  the retry does the work;
- only successful (2xx) answers are kept: a refused request stored nothing, so the client may
  fix it and send it again with the same key;
- the same key with another route or body is refused with 422 ``idempotency_key_reused``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.response import Response

from .exceptions import ServiceError
from .models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Any unique string (e.g. a UUID) per request, up to 255 characters. A retry with the same key and "
    "the same body gets the first answer back (header `Idempotent-Replayed: true`) and creates nothing; the same "
    "key with another body gets 422 `idempotency_key_reused`. Keys are per user and kept at least 24 hours.",
)


class InvalidIdempotencyKey(ServiceError):
    default_code = "invalid_idempotency_key"
    default_message = f"The {HEADER} header must be 1 to {MAX_KEY_LENGTH} printable ASCII characters."


class IdempotencyKeyReused(ServiceError):
    http_status = 422
    default_code = "idempotency_key_reused"
    default_message = (
        f"This {HEADER} was already used for a different request (another route or body). "
        "Send a new key with a new request; reuse a key only to retry the very same request."
    )


def idempotent(request, perform: Callable[[], Response]) -> Response:
    """``perform()`` once per (user, key); retries get its first successful answer again."""
    key = request.headers.get(HEADER)
    if key is None:
        return perform()
    key = checked_key(key)
    fingerprint = request_fingerprint(request)
    with transaction.atomic():
        first = _claim(request.user, key, fingerprint)
        if first is not None:
            return Response(first.response_body, status=first.response_status, headers={REPLAYED_HEADER: "true"})
        response = perform()
        if status.is_success(response.status_code):
            IdempotencyKey.objects.filter(user=request.user, key=key).update(
                response_status=response.status_code, response_body=response.data
            )
        else:
            transaction.set_rollback(True)  # nothing is kept: the key stays free for a corrected retry
    return response


def checked_key(value: str) -> str:
    if not 1 <= len(value) <= MAX_KEY_LENGTH or not all(" " <= ch <= "~" for ch in value):
        raise InvalidIdempotencyKey()
    return value


def _claim(user, key: str, fingerprint: str) -> IdempotencyKey | None:
    """Insert this request's key row (None), or return the earlier request's row to replay."""
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(user=user, key=key, fingerprint=fingerprint)
        return None
    except IntegrityError:
        pass  # the key exists: committed by an earlier request (we waited for it on PostgreSQL)
    first = IdempotencyKey.objects.select_for_update().get(user=user, key=key)
    if first.created_at < expiry_cutoff():
        first.delete()  # kept long enough: the key starts afresh
        IdempotencyKey.objects.create(user=user, key=key, fingerprint=fingerprint)
        return None
    if first.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return first


def expiry_cutoff():
    return timezone.now() - timedelta(hours=settings.SIGVERIFY_IDEMPOTENCY_KEEP_HOURS)


def purge_expired_keys() -> int:
    """Delete the keys older than the retention; returns how many."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=expiry_cutoff()).delete()
    return deleted


def request_fingerprint(request) -> str:
    """sha256 of the method, the path and the parsed body (uploaded files by their content)."""
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    data = request.data
    if hasattr(data, "lists"):  # form or multipart: a QueryDict, files included by DRF
        data = {name: [_plain(value) for value in values] for name, values in data.lists()}
    digest.update(json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode())
    return digest.hexdigest()


def _plain(value):
    if hasattr(value, "chunks"):
        content = hashlib.sha256()
        for chunk in value.chunks():
            content.update(chunk)
        value.seek(0)
        return {"file_sha256": content.hexdigest()}
    return value
