import io

import pytest
from django.conf import settings
from PIL import Image

from apps.signers.models import Signer
from apps.verifications.models import Review, Verification
from testsupport.synthetic_data import signature_bytes
from testsupport.uploads import bad_upload, media_files, upload

pytestmark = pytest.mark.django_db

RECORD_FIELDS = {
    "id",
    "signer",
    "signer_external_id",
    "signer_name",
    "decision",
    "reason",
    "score",
    "z_score",
    "distances",
    "thresholds",
    "reference_count",
    "scoring",
    "model_version",
    "model_version_id",
    "cheque_reference",
    "crop",
    "image_sha256",
    "quality",
    "requested_by",
    "created_at",
    "processing_ms",
    "review",
    "image_url",
    "preprocessed_url",
    "batch",
}


def verify(client, signer_key, data: bytes, **extra):
    return client.post(
        "/api/v1/verifications/", {"signer": signer_key, "image": upload(data), **extra}, format="multipart"
    )


def test_verify_answers_the_full_record(client_for, enrolled_signer, active_version):
    client = client_for("clerk")
    response = verify(client, enrolled_signer.external_id, signature_bytes(1, 5), cheque_reference="000123")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == RECORD_FIELDS
    assert body["decision"] in {"genuine", "refer", "forgery"}
    assert 0.0 <= body["score"] <= 1.0
    assert len(body["distances"]) == 3
    assert body["reference_count"] == 3
    assert body["scoring"] == "writer_independent"  # the tiny test model fuses no signer classifier
    assert {d["reference"] for d in body["distances"]} == set(enrolled_signer.references.values_list("id", flat=True))
    assert body["model_version"] == active_version.name
    assert body["thresholds"]["accept"] == 0.6 and body["thresholds"]["reject"] == 0.4
    assert body["cheque_reference"] == "000123"
    assert body["requested_by"] == client.user.username
    assert body["processing_ms"] >= 1
    assert body["review"] is None
    row = Verification.objects.get(pk=body["id"])
    assert row.signer == enrolled_signer
    assert row.reference_count == 3
    assert row.image.name.startswith("verifications/")
    # The decision follows the recorded thresholds.
    expected = "genuine" if row.score >= 0.6 else ("forgery" if row.score < 0.4 else "refer")
    assert row.decision == expected


def test_a_verify_request_answers_what_a_read_returns_in_a_fixed_number_of_queries(
    client_for, enrolled_signer, django_assert_num_queries
):
    """Pinned so the per-request work cannot silently regrow: the token, the user's permissions (1:
    their own and their groups' together), the signer, the active version, the references, the insert
    (one statement, no transaction of its own), and nothing after it: the answer is the row written,
    not a re-read. (A version that fuses a signer classifier reads it too: one more.)"""
    client = client_for("clerk")
    assert verify(client, enrolled_signer.external_id, signature_bytes(1, 5)).status_code == 201  # the model loads
    with django_assert_num_queries(6):
        response = verify(client, enrolled_signer.external_id, signature_bytes(1, 6), cheque_reference="7")
    assert response.status_code == 201, response.json()
    assert response.json() == client.get(f"/api/v1/verifications/{response.json()['id']}/").json()


def test_verify_by_numeric_id_with_crop(client_for, enrolled_signer):
    # A cheque-like scan: the signature sits in a box on a larger page.
    page = Image.new("RGB", (800, 400), "white")
    page.paste(Image.open(io.BytesIO(signature_bytes(1, 4))), (450, 200))
    buffer = io.BytesIO()
    page.save(buffer, format="PNG")
    response = verify(client_for("clerk"), str(enrolled_signer.pk), buffer.getvalue(), crop="450,200,300,150")
    assert response.status_code == 201, response.json()
    assert response.json()["crop"] == [450, 200, 300, 150]
    assert response.json()["quality"]["width"] == 300


@pytest.mark.parametrize(
    "crop, message",
    [("1,2,3", "four integers"), ("a,b,c,d", "four integers"), ("0,0,-5,10", "positive"), ("1.5,0,10,10", "whole")],
)
def test_verify_bad_crop_value_is_a_validation_error(client_for, enrolled_signer, crop, message):
    response = verify(client_for("clerk"), enrolled_signer.pk, signature_bytes(1, 5), crop=crop)
    assert response.status_code == 400
    assert message in response.json()["error"]["fields"]["crop"][0]


def test_verify_crop_outside_the_image_is_refused(client_for, enrolled_signer):
    response = verify(client_for("clerk"), enrolled_signer.pk, signature_bytes(1, 5), crop="0,0,5000,100")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_crop"
    assert not Verification.objects.exists()


def test_verify_missing_fields(client_for):
    response = client_for("clerk").post("/api/v1/verifications/", {}, format="multipart")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"signer", "image"}


def test_verify_unknown_signer_is_404(client_for, active_version):
    response = verify(client_for("clerk"), "NOBODY", signature_bytes(1, 5))
    assert response.status_code == 404
    assert "NOBODY" in response.json()["error"]["message"]
    assert response.json()["error"]["code"] == "signer_not_found"  # the code a batch item gets


def test_verify_signer_without_references_is_409(client_for, signer, active_version):
    response = verify(client_for("clerk"), signer.external_id, signature_bytes(1, 5))
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "no_references"
    assert "no reference" in error["message"]
    assert not Verification.objects.exists()


def test_verify_suspended_signer_is_409(client_for, enrolled_signer):
    Signer.objects.filter(pk=enrolled_signer.pk).update(status="suspended")
    response = verify(client_for("clerk"), enrolled_signer.external_id, signature_bytes(1, 5))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "signer_suspended"
    assert "suspended" in response.json()["error"]["message"]


@pytest.mark.parametrize("kind", ["zero_bytes", "text_named_png", "truncated_png", "decompression_bomb", "blank_page"])
def test_bad_questioned_image_is_refused_and_leaves_nothing(client_for, enrolled_signer, kind):
    data, name, code = bad_upload(kind)
    before = media_files(settings.MEDIA_ROOT)
    response = client_for("clerk").post(
        "/api/v1/verifications/", {"signer": enrolled_signer.pk, "image": upload(data, name)}, format="multipart"
    )
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == code
    assert len(error["message"]) > 10
    assert not Verification.objects.exists()
    assert media_files(settings.MEDIA_ROOT) == before


def test_failure_while_saving_leaves_no_row_and_no_file(client_for, enrolled_signer, monkeypatch):
    """The file is written, then the insert fails: the file must be removed again."""
    before = media_files(settings.MEDIA_ROOT)

    def failing_save(self, *args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Verification, "save", failing_save)
    client = client_for("clerk")
    client.raise_request_exception = False
    response = verify(client, enrolled_signer.pk, signature_bytes(1, 5))
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    monkeypatch.undo()
    assert not Verification.objects.exists()
    assert media_files(settings.MEDIA_ROOT) == before


def test_list_filters_and_ordering(client_for, enrolled_signer, make_user):
    from apps.verifications.services import verification_create

    alice, bob = make_user("clerk", username="alice"), make_user("clerk", username="bob")
    for i, user in enumerate([alice, alice, bob]):
        verification_create(signer=enrolled_signer, image=upload(signature_bytes(1, 10 + i)), user=user)
    other = Signer.objects.create(external_id="ZZ", full_name="Zed")
    client = client_for("clerk")
    assert client.get("/api/v1/verifications/").json()["count"] == 3
    assert client.get("/api/v1/verifications/", {"requested_by": "alice"}).json()["count"] == 2
    assert client.get("/api/v1/verifications/", {"signer": enrolled_signer.external_id}).json()["count"] == 3
    assert client.get("/api/v1/verifications/", {"signer": other.pk}).json()["count"] == 0
    decisions = [v["decision"] for v in client.get("/api/v1/verifications/").json()["results"]]
    first = decisions[0]
    assert client.get("/api/v1/verifications/", {"decision": first}).json()["count"] == decisions.count(first)
    today = Verification.objects.first().created_at.date().isoformat()
    assert client.get("/api/v1/verifications/", {"date_from": today, "date_to": today}).json()["count"] == 3
    assert client.get("/api/v1/verifications/", {"date_to": "2000-01-01"}).json()["count"] == 0
    assert client.get("/api/v1/verifications/", {"created_after": "2000-01-01T00:00:00Z"}).json()["count"] == 3
    # An offset ISO 8601 allows and PostgreSQL refuses (found by schemathesis): the same instant in UTC.
    far_offset = client.get("/api/v1/verifications/", {"created_before": "1628-10-07T15:37:53.7+18:31"})
    assert far_offset.status_code == 200 and far_offset.json()["count"] == 0
    scores = [v["score"] for v in client.get("/api/v1/verifications/", {"ordering": "score"}).json()["results"]]
    assert scores == sorted(scores)
    assert client.get("/api/v1/verifications/", {"decision": "maybe"}).status_code == 400


def test_retrieve_and_images(client_for, verification):
    client = client_for("clerk")
    body = client.get(f"/api/v1/verifications/{verification.pk}/").json()
    assert body["id"] == verification.pk
    image = client.get(body["image_url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert b"".join(image.streaming_content) == verification.image.open("rb").read()
    preprocessed = client.get(body["preprocessed_url"])
    assert preprocessed.status_code == 200
    assert Image.open(io.BytesIO(preprocessed.content)).size == (48, 32)
    assert client.get("/api/v1/verifications/999999/").status_code == 404


def test_review_records_the_final_call_without_touching_the_result(client_for, verification):
    client = client_for("clerk")
    final = "forgery" if verification.decision == "genuine" else "genuine"
    needs_comment = verification.decision in ("genuine", "forgery")
    if needs_comment:
        refused = client.post(
            f"/api/v1/verifications/{verification.pk}/review/", {"final_decision": final}, format="json"
        )
        assert refused.status_code == 400
        assert "comment" in refused.json()["error"]["fields"]
    response = client.post(
        f"/api/v1/verifications/{verification.pk}/review/",
        {"final_decision": final, "comment": "called the customer"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["final_decision"] == final
    assert response.json()["reviewer"] == client.user.username
    review = Review.objects.get(verification=verification)
    assert review.comment == "called the customer"
    stored = Verification.objects.get(pk=verification.pk)
    assert (stored.decision, stored.score) == (verification.decision, verification.score)
    again = client.post(
        f"/api/v1/verifications/{verification.pk}/review/", {"final_decision": final, "comment": "x"}, format="json"
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_reviewed"
    detail = client.get(f"/api/v1/verifications/{verification.pk}/").json()
    assert detail["review"]["final_decision"] == final
    assert client.get("/api/v1/verifications/", {"reviewed": "true"}).json()["count"] == 1


def test_review_validation(client_for, verification):
    response = client_for("clerk").post(
        f"/api/v1/verifications/{verification.pk}/review/", {"final_decision": "refer"}, format="json"
    )
    assert response.status_code == 400
    assert "final_decision" in response.json()["error"]["fields"]


def test_verify_is_throttled(client_for, enrolled_signer, monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import ScopedRateThrottle

    cache.clear()
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"verify": "2/min", "login": "5/min"})
    try:
        client = client_for("clerk")
        codes = [verify(client, enrolled_signer.pk, signature_bytes(1, 20 + i)).status_code for i in range(3)]
        assert codes == [201, 201, 429]
        assert verify(client, enrolled_signer.pk, signature_bytes(1, 30)).json()["error"]["code"] == "throttled"
        # Other endpoints are not throttled by the verify scope.
        assert client.get("/api/v1/verifications/").status_code == 200
    finally:
        cache.clear()
