"""Idempotency-Key on POST /verifications/ and POST /verification-batches/ (SQLite; the
concurrent retries run on PostgreSQL in verifications/tests/test_batches_celery.py)."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.core.management import call_command

from apps.core.models import IdempotencyKey
from apps.verifications.models import Verification, VerificationBatch
from testsupport.synthetic_data import signature_bytes
from testsupport.uploads import blank_png, upload

pytestmark = pytest.mark.django_db


def verify(client, signer, sample=1, key=None, **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(
        "/api/v1/verifications/",
        {"signer": signer.pk, "image": upload(signature_bytes(1, sample)), **extra},
        format="multipart",
        **headers,
    )


def send_batch(client, signer, samples=(1, 2), key=None):
    items = [{"signer": signer.external_id, "image": base64.b64encode(signature_bytes(1, s)).decode()} for s in samples]
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post("/api/v1/verification-batches/", {"items": items}, format="json", **headers)


def test_a_retried_verification_gets_the_first_answer_and_creates_no_row(client_for, enrolled_signer):
    client = client_for("clerk")
    first = verify(client, enrolled_signer, key="retry-1", cheque_reference="CHQ-9")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first
    again = verify(client, enrolled_signer, key="retry-1", cheque_reference="CHQ-9")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Verification.objects.count() == 1
    # Without a key every request is new.
    assert verify(client, enrolled_signer, cheque_reference="CHQ-9").json()["id"] != first.json()["id"]


def test_the_same_key_with_another_body_or_route_is_refused_with_422(client_for, enrolled_signer):
    client = client_for("integrator")
    assert verify(client, enrolled_signer, sample=1, key="k-1").status_code == 201
    for response in (
        verify(client, enrolled_signer, sample=2, key="k-1"),
        verify(client, enrolled_signer, sample=1, key="k-1", cheque_reference="other"),
        send_batch(client, enrolled_signer, key="k-1"),
    ):
        assert response.status_code == 422, response.json()
        assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Verification.objects.count() == 1 and not VerificationBatch.objects.exists()


def test_keys_are_scoped_to_the_caller(client_for, enrolled_signer):
    one, two = client_for("clerk"), client_for("clerk")
    first = verify(one, enrolled_signer, key="shared-key")
    second = verify(two, enrolled_signer, key="shared-key")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert second.json()["requested_by"] == two.user.username


def test_a_refused_request_keeps_no_answer_so_a_corrected_retry_works(client_for, enrolled_signer):
    client = client_for("clerk")
    refused = client.post(
        "/api/v1/verifications/",
        {"signer": enrolled_signer.pk, "image": upload(blank_png())},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="fix-me",
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "no_ink"
    assert not IdempotencyKey.objects.exists()
    assert verify(client, enrolled_signer, key="fix-me").status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "naïve"])
def test_a_malformed_key_is_refused(client_for, enrolled_signer, key):
    response = verify(client_for("clerk"), enrolled_signer, key=key)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"
    assert not Verification.objects.exists()


def test_keys_are_kept_for_the_retention_then_purged(client_for, enrolled_signer, settings, capsys):
    client = client_for("clerk")
    first = verify(client, enrolled_signer, key="old").json()["id"]
    assert settings.SIGVERIFY_IDEMPOTENCY_KEEP_HOURS >= 24
    almost = IdempotencyKey.objects.filter(key="old")
    almost.update(created_at=IdempotencyKey.objects.get().created_at - timedelta(hours=23, minutes=59))
    assert verify(client, enrolled_signer, key="old").json()["id"] == first  # still replayed after 23:59

    almost.update(created_at=IdempotencyKey.objects.get().created_at - timedelta(hours=1))
    call_command("purge_idempotency_keys")
    assert "1 idempotency key(s)" in capsys.readouterr().out
    assert not IdempotencyKey.objects.exists()
    assert verify(client, enrolled_signer, key="old").json()["id"] != first  # a new request now


def test_an_expired_key_met_by_a_retry_starts_afresh(client_for, enrolled_signer, settings):
    client = client_for("clerk")
    first = verify(client, enrolled_signer, key="stale").json()["id"]
    IdempotencyKey.objects.update(created_at=IdempotencyKey.objects.get().created_at - timedelta(hours=25))
    assert verify(client, enrolled_signer, key="stale").json()["id"] != first
    assert IdempotencyKey.objects.count() == 1


def test_a_retried_batch_gets_the_first_answer_and_creates_no_second_batch(
    client_for, enrolled_signer, django_capture_on_commit_callbacks
):
    client = client_for("integrator")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = send_batch(client, enrolled_signer, key="batch-1")
        again = send_batch(client, enrolled_signer, key="batch-1")
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert VerificationBatch.objects.count() == 1
    assert len(callbacks) == 1  # queued once
