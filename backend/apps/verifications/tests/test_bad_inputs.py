"""Every file of the bad-input corpus through the reference-upload and verify endpoints.

Each gets a 4xx in the common error format with a readable message, or, where the file is a
legal image, a valid result; and nothing is half-stored: a refusal leaves no row and no file,
an acceptance leaves exactly one row per image with its file inside MEDIA_ROOT.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from apps.signers.models import ReferenceSignature
from apps.verifications.models import Verification
from testsupport.bad_inputs import build_corpus
from testsupport.uploads import media_files, upload

pytestmark = pytest.mark.django_db

CORPUS = build_corpus()


def test_the_corpus_is_big_and_covers_the_required_kinds():
    names = {item.name for item in CORPUS}
    assert len(CORPUS) >= 30
    for required in (
        "zero_bytes",
        "truncated_png_half",
        "truncated_jpeg_half",
        "text_named_png",
        "svg_with_script",
        "pdf_with_javascript",
        "html_named_jpg",
        "polyglot_gif_javascript",
        "bomb_png_50000x50000",
        "strip_1x10000",
        "tiff_16bit",
        "jpeg_cmyk",
        "gif_animated",
        "jpeg_huge_exif",
        "jpeg_exif_rotated",
        "all_white",
        "all_black",
        "pure_noise",
    ):
        assert required in names


def _assert_error_format(response, item):
    assert 400 <= response.status_code < 500, (item.name, response.status_code, response.content[:300])
    error = response.json()["error"]
    assert set(error) >= {"code", "message"}
    assert len(error["message"]) > 10, error
    return error


def _assert_inside_media(names):
    root = Path(settings.MEDIA_ROOT).resolve()
    for name in names:
        assert (root / name).resolve().is_relative_to(root), name
        assert ".." not in Path(name).parts


@pytest.mark.parametrize("item", CORPUS, ids=[i.name for i in CORPUS])
def test_verify_endpoint(item, client_for, enrolled_signer):
    before_files = media_files(settings.MEDIA_ROOT)
    before_rows = Verification.objects.count()
    response = client_for("clerk").post(
        "/api/v1/verifications/",
        {"signer": enrolled_signer.pk, "image": upload(item.data, item.filename)},
        format="multipart",
    )
    new_files = media_files(settings.MEDIA_ROOT) - before_files
    if response.status_code == 201:
        assert item.expect == "legal", f"{item.name} must be refused"
        body = response.json()
        assert body["decision"] in ("genuine", "refer", "forgery")
        assert 0.0 <= body["score"] <= 1.0
        assert Verification.objects.count() == before_rows + 1
        stored = Verification.objects.get(pk=body["id"])
        assert new_files == {stored.image.name}
        _assert_inside_media(new_files)
        assert Path(stored.image.path).read_bytes() == item.data
    else:
        error = _assert_error_format(response, item)
        if item.codes:
            assert error["code"] in item.codes, (item.name, error)
        assert Verification.objects.count() == before_rows
        assert new_files == set()


@pytest.mark.parametrize("item", CORPUS, ids=[i.name for i in CORPUS])
def test_reference_upload_endpoint(item, client_for, signer, active_version):
    before_files = media_files(settings.MEDIA_ROOT)
    response = client_for("integrator").post(
        f"/api/v1/signers/{signer.pk}/references/", {"images": [upload(item.data, item.filename)]}, format="multipart"
    )
    new_files = media_files(settings.MEDIA_ROOT) - before_files
    body = response.json()
    if response.status_code == 201:
        assert item.expect == "legal", f"{item.name} must be refused"
        assert len(body["accepted"]) == 1 and body["rejected"] == []
        reference = ReferenceSignature.objects.get(signer=signer)
        assert new_files == {reference.image.name}
        _assert_inside_media(new_files)
        assert reference.embeddings.filter(model_version=active_version).count() == 1
    else:
        error = _assert_error_format(response, item)
        assert error["code"] == "no_image_accepted"
        [reason] = body["rejected"]
        assert len(reason["message"]) > 10
        if item.codes:
            assert reason["code"] in item.codes, (item.name, reason)
        assert not ReferenceSignature.objects.filter(signer=signer).exists()
        assert new_files == set()


def test_one_request_mixing_good_and_bad_files_stores_only_the_good_ones(client_for, signer, active_version):
    legal = [i for i in CORPUS if i.name in ("palette_png", "jpeg_cmyk")]
    bad = [i for i in CORPUS if i.expect == "reject"][:10]
    before_files = media_files(settings.MEDIA_ROOT)
    response = client_for("integrator").post(
        f"/api/v1/signers/{signer.pk}/references/",
        {"images": [upload(i.data, i.filename) for i in legal + bad]},
        format="multipart",
    )
    assert response.status_code == 201
    body = response.json()
    assert len(body["accepted"]) == 2 and len(body["rejected"]) == 10
    assert ReferenceSignature.objects.filter(signer=signer).count() == 2
    assert len(media_files(settings.MEDIA_ROOT) - before_files) == 2


def test_postscript_never_reaches_a_decoder():
    """EPS would make Pillow run Ghostscript; only the allowed decoders see uploads."""
    from sigverify.errors import NotAnImageError
    from sigverify.preprocess import DECODERS, load_image

    assert "EPS" not in DECODERS
    eps = next(i for i in CORPUS if i.name == "eps_postscript")
    with pytest.raises(NotAnImageError):
        load_image(eps.data)


@pytest.mark.parametrize("item", CORPUS, ids=[i.name for i in CORPUS])
def test_signature_region_endpoint(item, client_for, active_version):
    """A page that decodes and holds ink gets a box inside it; the rest the same refusal code."""
    from sigverify.errors import ImageRejected
    from sigverify.preprocess import load_image, require_ink

    try:
        image = load_image(item.data, max_pixels=int(settings.SIGVERIFY_MAX_PIXELS))
        require_ink(image)
        refusal = None
    except ImageRejected as exc:
        refusal = exc.code
    before_files = media_files(settings.MEDIA_ROOT)
    response = client_for("clerk").post(
        "/api/v1/signature-region/", {"image": upload(item.data, item.filename)}, format="multipart"
    )
    assert media_files(settings.MEDIA_ROOT) == before_files
    if refusal is None:
        assert response.status_code == 200, (item.name, response.content[:300])
        body = response.json()
        crop = body["crop"]
        assert (body["image_width"], body["image_height"]) == image.size
        assert crop["x"] >= 0 and crop["y"] >= 0 and crop["width"] >= 1 and crop["height"] >= 1
        assert crop["x"] + crop["width"] <= image.width and crop["y"] + crop["height"] <= image.height
    else:
        assert _assert_error_format(response, item)["code"] == refusal
