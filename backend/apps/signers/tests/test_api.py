import pytest
from django.conf import settings

from apps.signers.models import ReferenceEmbedding, ReferenceSignature, Signer
from testsupport.synthetic_data import signature_bytes
from testsupport.uploads import bad_upload, media_files, upload

pytestmark = pytest.mark.django_db


def test_create_signer_returns_contract_fields(client_for):
    client = client_for("integrator")
    response = client.post("/api/v1/signers/", {"external_id": "ACC-1", "full_name": "Grace Hopper"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["external_id"] == "ACC-1"
    assert body["full_name"] == "Grace Hopper"
    assert body["status"] == "active"
    assert Signer.objects.filter(external_id="ACC-1").exists()


def test_create_signer_validation_errors_use_the_error_format(client_for, signer):
    client = client_for("integrator")
    response = client.post("/api/v1/signers/", {"external_id": signer.external_id}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["fields"]) == {"external_id", "full_name"}
    assert error["message"]


def test_create_signer_rejects_bad_status(client_for):
    response = client_for("integrator").post(
        "/api/v1/signers/", {"external_id": "X", "full_name": "Y", "status": "gone"}, format="json"
    )
    assert response.status_code == 400
    assert "status" in response.json()["error"]["fields"]


def test_list_filters_by_status_and_searches_name_and_external_id(client_for):
    Signer.objects.create(external_id="A-1", full_name="Alan Turing")
    Signer.objects.create(external_id="B-2", full_name="Barbara Liskov", status="suspended")
    Signer.objects.create(external_id="C-3", full_name="Claude Shannon")
    client = client_for("clerk")
    body = client.get("/api/v1/signers/", {"status": "suspended"}).json()
    assert [s["external_id"] for s in body["results"]] == ["B-2"]
    assert body["count"] == 1
    assert [s["external_id"] for s in client.get("/api/v1/signers/", {"search": "shannon"}).json()["results"]] == [
        "C-3"
    ]
    assert [s["external_id"] for s in client.get("/api/v1/signers/", {"search": "A-1"}).json()["results"]] == ["A-1"]
    assert client.get("/api/v1/signers/", {"status": "bogus"}).status_code == 400


def test_list_is_paginated(client_for):
    Signer.objects.bulk_create([Signer(external_id=f"P-{i:02d}", full_name=f"Person {i}") for i in range(30)])
    body = client_for("clerk").get("/api/v1/signers/", {"page_size": 10, "page": 2}).json()
    assert body["count"] == 30
    assert len(body["results"]) == 10
    assert body["results"][0]["external_id"] == "P-10"
    assert body["next"] and body["previous"]


def test_retrieve_by_id_or_external_id(client_for, signer):
    client = client_for("clerk")
    assert client.get(f"/api/v1/signers/{signer.pk}/").json()["external_id"] == signer.external_id
    assert client.get(f"/api/v1/signers/{signer.external_id}/").json()["id"] == signer.pk
    missing = client.get("/api/v1/signers/NOPE-404/")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "signer_not_found"  # as for verify and a batch item


def test_update_suspend_and_reactivate(client_for, signer):
    client = client_for("integrator")
    response = client.patch(f"/api/v1/signers/{signer.external_id}/", {"full_name": "Ada King"}, format="json")
    assert response.status_code == 200
    assert response.json()["full_name"] == "Ada King"
    assert client.post(f"/api/v1/signers/{signer.pk}/suspend/").json()["status"] == "suspended"
    signer.refresh_from_db()
    assert signer.status == "suspended"
    assert client.post(f"/api/v1/signers/{signer.pk}/reactivate/").json()["status"] == "active"
    bad = client.patch(f"/api/v1/signers/{signer.pk}/", {"full_name": ""}, format="json")
    assert bad.status_code == 400
    assert "full_name" in bad.json()["error"]["fields"]


def test_upload_references_accepts_and_rejects_with_reasons(client_for, signer, active_version):
    client = client_for("integrator")
    good = [upload(signature_bytes(2, i), f"good{i}.png") for i in range(2)]
    blank, _, _ = bad_upload("blank_page")
    duplicate = upload(signature_bytes(2, 0), "again.png")
    response = client.post(
        f"/api/v1/signers/{signer.external_id}/references/",
        {"images": [*good, upload(blank, "blank.png"), duplicate]},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert sorted(r["original_name"] for r in body["accepted"]) == ["good0.png", "good1.png"]
    assert {(r["filename"], r["code"]) for r in body["rejected"]} == {
        ("blank.png", "no_ink"),
        ("again.png", "duplicate"),
    }
    assert all(r["message"] for r in body["rejected"])
    assert all(r["model_versions"] == [active_version.pk] for r in body["accepted"])
    assert ReferenceSignature.objects.filter(signer=signer).count() == 2
    assert ReferenceEmbedding.objects.filter(reference__signer=signer, model_version=active_version).count() == 2
    vector = ReferenceEmbedding.objects.filter(reference__signer=signer).first().as_array()
    assert vector.shape == (16,)


def test_reference_already_enrolled_is_rejected_as_duplicate(client_for, enrolled_signer):
    response = client_for("integrator").post(
        f"/api/v1/signers/{enrolled_signer.pk}/references/",
        {"images": [upload(signature_bytes(1, 0), "ref0-again.png")]},
        format="multipart",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["rejected"][0]["code"] == "duplicate"
    assert body["error"]["code"] == "no_image_accepted"
    assert enrolled_signer.references.count() == 3


@pytest.mark.parametrize("kind", ["zero_bytes", "text_named_png", "truncated_png", "decompression_bomb", "blank_page"])
def test_bad_reference_upload_is_refused_and_leaves_nothing(client_for, signer, active_version, kind):
    data, name, code = bad_upload(kind)
    before = media_files(settings.MEDIA_ROOT)
    response = client_for("integrator").post(
        f"/api/v1/signers/{signer.pk}/references/", {"images": [upload(data, name)]}, format="multipart"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["rejected"] == [{"filename": name, "code": code, "message": body["rejected"][0]["message"]}]
    assert len(body["rejected"][0]["message"]) > 10
    assert body["error"]["code"] == "no_image_accepted"
    assert name in body["error"]["message"]
    assert not ReferenceSignature.objects.exists()
    assert media_files(settings.MEDIA_ROOT) == before


def test_upload_too_large_file_is_rejected(client_for, signer, active_version, settings):
    settings.SIGVERIFY_MAX_UPLOAD_MB = 0  # every non-empty file is over the limit
    response = client_for("integrator").post(
        f"/api/v1/signers/{signer.pk}/references/", {"images": [upload(signature_bytes(1, 1))]}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["rejected"][0]["code"] == "file_too_large"


def test_upload_without_images_is_a_validation_error(client_for, signer):
    response = client_for("integrator").post(f"/api/v1/signers/{signer.pk}/references/", {}, format="multipart")
    assert response.status_code == 400
    assert response.json()["error"]["fields"].keys() == {"images"}


def test_upload_for_unknown_signer_is_404(client_for, active_version):
    response = client_for("integrator").post(
        "/api/v1/signers/NOBODY/references/", {"images": [upload(signature_bytes(1, 1))]}, format="multipart"
    )
    assert response.status_code == 404


def test_list_references_and_fetch_images(client_for, enrolled_signer):
    client = client_for("clerk")
    body = client.get(f"/api/v1/signers/{enrolled_signer.external_id}/references/").json()
    assert body["count"] == 3
    reference = body["results"][0]
    image = client.get(reference["image_url"])
    assert image.status_code == 200
    assert image["Content-Type"] == "image/png"
    stored = ReferenceSignature.objects.get(pk=reference["id"])
    assert b"".join(image.streaming_content) == stored.image.open("rb").read()
    preprocessed = client.get(reference["preprocessed_url"])
    assert preprocessed.status_code == 200
    assert preprocessed["Content-Type"] == "image/png"
    from io import BytesIO

    from PIL import Image

    assert Image.open(BytesIO(preprocessed.content)).size == (48, 32)  # (W, H) of the tiny model


def test_reference_of_another_signer_is_404(client_for, enrolled_signer):
    other = Signer.objects.create(external_id="OTHER", full_name="Other")
    ref = enrolled_signer.references.first()
    assert client_for("clerk").get(f"/api/v1/signers/{other.pk}/references/{ref.pk}/image/").status_code == 404


def test_delete_reference_removes_row_embeddings_and_file(
    client_for, enrolled_signer, django_capture_on_commit_callbacks
):
    reference = enrolled_signer.references.first()
    path = reference.image.path
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for("integrator").delete(f"/api/v1/signers/{enrolled_signer.pk}/references/{reference.pk}/")
    assert response.status_code == 204
    assert not ReferenceSignature.objects.filter(pk=reference.pk).exists()
    assert not ReferenceEmbedding.objects.filter(reference_id=reference.pk).exists()
    import os

    assert not os.path.exists(path)


def test_media_is_not_served_publicly(anon_client, enrolled_signer):
    reference = enrolled_signer.references.first()
    assert anon_client.get(f"/media/{reference.image.name}").status_code == 404
    assert anon_client.get(f"/api/v1/signers/{enrolled_signer.pk}/references/{reference.pk}/image/").status_code == 401


def test_external_id_with_a_slash_or_space_is_refused(client_for):
    client = client_for("integrator")
    for bad in ("A/1", "A 1"):
        response = client.post("/api/v1/signers/", {"external_id": bad, "full_name": "X"}, format="json")
        assert response.status_code == 400
        assert "external_id" in response.json()["error"]["fields"]


def test_numeric_external_ids_win_over_ids_and_links_stay_unambiguous(client_for, enrolled_signer):
    # A second signer whose external id is the first signer's numeric id.
    other = Signer.objects.create(external_id=str(enrolled_signer.pk), full_name="Numeric Account")
    client = client_for("clerk")
    assert client.get(f"/api/v1/signers/{enrolled_signer.pk}/").json()["id"] == other.pk
    references = client.get(f"/api/v1/signers/{enrolled_signer.external_id}/references/").json()["results"]
    assert client.get(references[0]["image_url"]).status_code == 200
    suspended = client_for("integrator").post(f"/api/v1/signers/{enrolled_signer.external_id}/suspend/").json()
    assert suspended["id"] == enrolled_signer.pk and suspended["status"] == "suspended"
