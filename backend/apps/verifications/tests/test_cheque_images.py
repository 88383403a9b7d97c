"""Cheque images as archives store them, through the API, batches and the admin: bilevel 200 dpi
CCITT group 4 TIFFs and multi-page TIFFs (page 1 is the front) work wherever PNG does; the
proposed signature region on a whole cheque."""

import io

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image

from apps.verifications.models import Verification
from sigverify.chequegen import SyntheticInk, generate_cheque, iou
from sigverify.synthetic_signatures import draw_signature
from testsupport.synthetic_data import draw_cheque
from testsupport.uploads import upload

pytestmark = pytest.mark.django_db


def tiff(*pages: Image.Image, compression="group4") -> bytes:
    first, *rest = pages
    buffer = io.BytesIO()
    first.save(buffer, format="TIFF", compression=compression, dpi=(200, 200), save_all=bool(rest), append_images=rest)
    return buffer.getvalue()


def bilevel(image: Image.Image) -> Image.Image:
    return image.convert("1", dither=Image.Dither.NONE)


def signature_tiff(writer: int, sample: int) -> bytes:
    return tiff(bilevel(draw_signature(writer, sample, size=(400, 200))))


def cheque_tiff(writer: int = 1, sample: int = 9, back: bool = False) -> tuple[bytes, tuple]:
    front, box = draw_cheque(writer, sample)
    pages = [bilevel(front)]
    if back:  # the back of the cheque: an endorsement stamp, page 2
        reverse_side = Image.new("L", front.size, 255)
        reverse_side.paste(0, (50, 50, 600, 400))
        pages.append(bilevel(reverse_side))
    return tiff(*pages), box


def tiff_upload(data: bytes, name: str = "scan.tif"):
    return upload(data, name, "image/tiff")


@pytest.fixture
def tiff_signer(client_for, signer, active_version):
    """A signer enrolled with three group 4 TIFF references through the API."""
    files = [tiff_upload(signature_tiff(1, i), f"card{i}.tif") for i in range(3)]
    response = client_for("integrator").post(
        f"/api/v1/signers/{signer.external_id}/references/", {"images": files}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    assert [r["original_name"] for r in response.json()["accepted"]] == ["card0.tif", "card1.tif", "card2.tif"]
    return signer


def test_group4_tiff_references_are_enrolled_and_served_as_stored(client_for, tiff_signer):
    client = client_for("clerk")
    reference = tiff_signer.references.order_by("id").first()
    assert reference.image.name.endswith(".tif") and reference.content_type == "image/tiff"
    original = client.get(f"/api/v1/signers/{tiff_signer.pk}/references/{reference.pk}/image/")
    assert original.status_code == 200 and original["Content-Type"] == "image/tiff"
    assert b"".join(original.streaming_content) == signature_tiff(1, 0)
    seen = client.get(f"/api/v1/signers/{tiff_signer.pk}/references/{reference.pk}/preprocessed/")
    assert seen.status_code == 200
    assert np.asarray(Image.open(io.BytesIO(seen.content))).max() > 64  # the strokes, bright on black


def verify(client, signer, data, name="q.tif", **extra):
    return client.post(
        "/api/v1/verifications/",
        {"signer": signer.external_id, "image": tiff_upload(data, name), **extra},
        format="multipart",
    )


def test_group4_tiff_signature_is_verified_like_its_png(client_for, tiff_signer):
    client = client_for("clerk")
    as_tiff = verify(client, tiff_signer, signature_tiff(1, 7))
    assert as_tiff.status_code == 201, as_tiff.json()
    png = io.BytesIO()
    bilevel(draw_signature(1, 7, size=(400, 200))).save(png, format="PNG")
    as_png = client.post(
        "/api/v1/verifications/",
        {"signer": tiff_signer.external_id, "image": upload(png.getvalue())},
        format="multipart",
    )
    assert as_png.status_code == 201
    assert as_tiff.json()["score"] == pytest.approx(as_png.json()["score"], abs=1e-6)
    assert as_tiff.json()["distances"] == as_png.json()["distances"]
    image = client.get(as_tiff.json()["image_url"])
    assert image["Content-Type"] == "image/tiff" and b"".join(image.streaming_content) == signature_tiff(1, 7)


def test_multi_page_cheque_tiff_is_verified_on_page_1_with_the_proposed_box(client_for, tiff_signer):
    client = client_for("clerk")
    two_pages, box = cheque_tiff(back=True)
    front_only, _ = cheque_tiff(back=False)
    proposal = client.post("/api/v1/signature-region/", {"image": tiff_upload(two_pages)}, format="multipart")
    assert proposal.status_code == 200, proposal.json()
    crop = proposal.json()["crop"]
    crop_text = f"{crop['x']},{crop['y']},{crop['width']},{crop['height']}"
    both = verify(client, tiff_signer, two_pages, "cheque.tif", crop=crop_text, cheque_reference="CHQ-9")
    front = verify(client, tiff_signer, front_only, "front.tif", crop=crop_text)
    assert both.status_code == 201 and front.status_code == 201, (both.json(), front.json())
    assert both.json()["crop"] == [crop["x"], crop["y"], crop["width"], crop["height"]]
    assert both.json()["quality"]["width"] == crop["width"]
    assert both.json()["score"] == pytest.approx(front.json()["score"], abs=1e-6)
    seen_both = client.get(both.json()["preprocessed_url"]).content
    assert seen_both == client.get(front.json()["preprocessed_url"]).content
    # The page-2 stamp would be a black block; the model saw the signature strokes.
    assert 0.01 < (np.asarray(Image.open(io.BytesIO(seen_both))) > 64).mean() < 0.5


def test_signature_region_of_a_group4_cheque(client_for, active_version):
    data, (sx, sy, sw, sh) = cheque_tiff(writer=2)
    response = client_for("clerk").post("/api/v1/signature-region/", {"image": tiff_upload(data)}, format="multipart")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"crop", "image_width", "image_height", "found", "code_line_top", "signatures"}
    assert (body["image_width"], body["image_height"], body["found"]) == (1200, 550, True)
    crop = body["crop"]
    # The box holds the drawn signature (its ink lies inside the drawn box, with a margin) ...
    ink = np.asarray(draw_signature(2, 9, size=(sw, sh))) < 128
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    assert crop["x"] <= sx + cols[0] + 2 and crop["x"] + crop["width"] >= sx + cols[-1] - 2
    assert crop["y"] <= sy + rows[0] + 2 and crop["y"] + crop["height"] >= sy + rows[-1] - 2
    # ... and stays above the code line.
    assert crop["y"] + crop["height"] <= body["code_line_top"] <= int(0.86 * 550) + 2


def test_signature_region_lists_every_signature_of_a_joint_account_cheque(client_for, active_version):
    cheque = generate_cheque(1, SyntheticInk("test"), family="uk_company", signers=2, capture="group4")
    response = client_for("clerk").post(
        "/api/v1/signature-region/", {"image": tiff_upload(cheque.data)}, format="multipart"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert {"crop", "found", "code_line_top"} <= set(body)  # the one-box answer stays
    signatures = body["signatures"]
    assert all(set(s) == {"box", "confidence"} and 0 < s["confidence"] <= 1 for s in signatures)
    boxes = [(s["box"]["x"], s["box"]["y"], s["box"]["width"], s["box"]["height"]) for s in signatures]
    for truth in cheque.boxes:  # both signers' boxes are there
        assert max(iou(box, truth) for box in boxes) >= 0.5, (truth, boxes)
    confidences = [s["confidence"] for s in signatures]
    assert confidences == sorted(confidences, reverse=True)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_signature_region_of_other_formats(client_for, active_version, fmt):
    cheque, _ = draw_cheque(3)
    buffer = io.BytesIO()
    cheque.convert("RGB").save(buffer, format=fmt)
    response = client_for("integrator").post(
        "/api/v1/signature-region/", {"image": upload(buffer.getvalue(), f"c.{fmt.lower()}")}, format="multipart"
    )
    assert response.status_code == 200 and response.json()["found"] is True


def test_signature_region_refusals_use_the_error_format(client_for, anon_client, active_version):
    client = client_for("clerk")
    not_image = client.post("/api/v1/signature-region/", {"image": upload(b"plain text", "x.png")}, format="multipart")
    assert not_image.status_code == 400 and not_image.json()["error"]["code"] == "not_an_image"
    missing = client.post("/api/v1/signature-region/", {}, format="multipart")
    assert missing.status_code == 400 and "image" in missing.json()["error"]["fields"]
    data, _ = cheque_tiff()
    assert (
        client_for("ml_staff")
        .post("/api/v1/signature-region/", {"image": tiff_upload(data)}, format="multipart")
        .status_code
        == 403
    )
    assert (
        anon_client.post("/api/v1/signature-region/", {"image": tiff_upload(data)}, format="multipart").status_code
        == 401
    )
    assert Verification.objects.count() == 0  # a proposal stores nothing


# --- admin thumbnails ---------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, make_user):
    client.force_login(make_user(username="boss", is_superuser=True, is_staff=True))
    return client


def thumbnail(client, url) -> np.ndarray:
    response = client.get(url + "?thumb=1")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.mode == "L" and max(image.size) <= 240
    return np.asarray(image)


def test_admin_thumbnails_of_group4_and_multi_page_tiffs(staff_client, client_for, tiff_signer):
    reference = tiff_signer.references.order_by("id").first()
    reference_thumb = thumbnail(staff_client, reverse("admin:signers_reference_image", args=[reference.pk]))
    assert reference_thumb.min() < 128 and np.median(reference_thumb) > 200  # strokes on white paper
    # The strokes survive the reduction as grey, not as every n-th bilevel pixel.
    assert len(np.unique(reference_thumb)) > 2

    two_pages, _ = cheque_tiff(back=True)
    front_only, _ = cheque_tiff(back=False)
    clerk = client_for("clerk")
    ids = [verify(clerk, tiff_signer, data, crop="690,300,400,150").json()["id"] for data in (two_pages, front_only)]
    thumbs = [thumbnail(staff_client, reverse("admin:verifications_verification_image", args=[pk])) for pk in ids]
    assert np.array_equal(thumbs[0], thumbs[1])  # page 1 only: the stamp on page 2 is not shown
    assert thumbs[0].shape == (110, 240)
    change = staff_client.get(reverse("admin:verifications_verification_change", args=[ids[0]]))
    assert reverse("admin:verifications_verification_image", args=[ids[0]]) in change.content.decode()


def test_admin_thumbnail_of_a_transparent_png_is_on_white(staff_client, client_for, signer, active_version):
    strokes = draw_signature(1, 1, size=(400, 200))
    rgba = Image.new("RGBA", strokes.size, (0, 0, 0, 0))
    rgba.putalpha(strokes.point(lambda v: 255 - v))  # black paper, fully transparent
    buffer = io.BytesIO()
    rgba.save(buffer, format="PNG")
    response = client_for("integrator").post(
        f"/api/v1/signers/{signer.pk}/references/",
        {"images": [upload(buffer.getvalue(), "rgba.png")]},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    reference = signer.references.get()
    thumb = thumbnail(staff_client, reverse("admin:signers_reference_image", args=[reference.pk]))
    assert np.median(thumb) > 240 and thumb.min() < 100


def test_batch_items_in_group4_and_multi_page_tiff(client_for, tiff_signer):
    import base64

    from apps.verifications import batch_runs

    client = client_for("integrator")
    two_pages, _ = cheque_tiff(back=True)
    crop = client.post("/api/v1/signature-region/", {"image": tiff_upload(two_pages)}, format="multipart").json()
    box = crop["crop"]
    items = [
        {"signer": tiff_signer.external_id, "image": base64.b64encode(signature_tiff(1, 8)).decode()},
        {
            "signer": tiff_signer.external_id,
            "image": base64.b64encode(two_pages).decode(),
            "crop": f"{box['x']},{box['y']},{box['width']},{box['height']}",
            "cheque_reference": "CHQ-B2",
        },
        # the worker finds the box itself: the same one the region route proposes
        {"signer": tiff_signer.external_id, "image": base64.b64encode(two_pages).decode(), "crop": "auto"},
    ]
    created = client.post("/api/v1/verification-batches/", {"items": items}, format="json")
    assert created.status_code == 202, created.json()
    assert batch_runs.run_batch(created.json()["id"], worker="test@host") == "done"
    results = client.get(f"/api/v1/verification-batches/{created.json()['id']}/").json()["items"]
    assert [r["status"] for r in results] == ["done", "done", "done"], results
    assert results[2]["score"] == pytest.approx(results[1]["score"], abs=1e-6)
    auto = client.get(f"/api/v1/verifications/{results[2]['verification']}/").json()
    assert auto["crop"] == [box["x"], box["y"], box["width"], box["height"]]
    single = verify(
        client_for("clerk"), tiff_signer, two_pages, crop=",".join(str(box[k]) for k in ("x", "y", "width", "height"))
    )
    assert results[1]["score"] == pytest.approx(single.json()["score"], abs=1e-6)


def test_a_whole_cheque_is_decoded_once_and_preprocessed_as_its_box_alone_would_be(monkeypatch):
    """crop "auto" (batch items) and a cheque's signatures: the search and the preprocessing of
    each box share one decode, with the same arrays as decoding the file again per box."""
    from apps.core import images
    from apps.mandates import services as cheque_services
    from apps.verifications import services

    cheque, _ = draw_cheque(writer=2, sample=3)
    data = tiff(bilevel(cheque))
    expected_crop = [int(v) for v in services.find_signature_region(images.decode_bytes(data)).box]
    expected = images.preprocess_bytes(data, (64, 128), crop=expected_crop)
    decodes = []
    real = images.decode_bytes

    def counted(payload):
        decodes.append(len(payload))
        return real(payload)

    monkeypatch.setattr(services, "decode_bytes", counted)
    monkeypatch.setattr(cheque_services, "decode_bytes", counted)
    monkeypatch.setattr(images, "decode_bytes", counted)
    array, quality, crop = services.verification_preprocess(data, (64, 128), "auto")
    assert decodes == [len(data)]
    assert crop == expected_crop and np.array_equal(array, expected[0]) and quality == expected[1]

    decodes.clear()
    prepared = cheque_services.cheque_image_prepare(data, (64, 128))
    assert prepared.error is None and prepared.found and decodes == [len(data)]
    for (box, _), array in zip(prepared.found, prepared.arrays, strict=True):
        assert np.array_equal(array, images.preprocess_bytes(data, (64, 128), crop=list(box))[0])


@pytest.mark.parametrize(
    ("found_on_cheque", "decides", "cheque_pair", "expected"),
    [
        (True, False, False, "refer"),
        (True, True, False, "forgery"),
        (True, False, True, "forgery"),
        (False, False, False, "forgery"),
    ],
    ids=["auto-box-referred", "auto-box-where-the-bank-lets-it-decide", "auto-box-at-a-cheque-pair", "clerks-box"],
)
def test_a_forgery_call_on_a_box_found_on_a_whole_cheque_is_referred(
    monkeypatch, settings, signer, found_on_cheque, decides, cheque_pair, expected
):
    """A box the finder took from a whole cheque ("auto") is decided forgery only where the version
    has operating points fitted on cheques (its thresholds' ``cheque`` pair, which scoring was asked
    for) or SIGVERIFY_CHEQUE_FORGERY_DECIDES lets it; otherwise referred with reason ``whole_cheque``."""
    from apps.modelregistry.models import ModelVersion
    from apps.signers.scoring import Scored
    from apps.verifications import services

    settings.SIGVERIFY_CHEQUE_FORGERY_DECIDES = decides
    thresholds = {"accept": 0.9, "reject": 0.1, "eer": 0.5, "references": 1}
    asked = []

    def scored(*args, cheque=False):
        asked.append(cheque)
        return Scored(0.01, 3.0, 1, thresholds, "forgery", [0.9], False)

    monkeypatch.setattr(services, "score_against", scored)
    version = ModelVersion(
        thresholds={**thresholds, "cheque": {"accept": 0.95, "reject": 0.05}} if cheque_pair else thresholds
    )
    context = services.ScoringContext(version, None, [1], np.zeros((1, 4), np.float32), None)
    monkeypatch.setattr(services, "scoring_used", lambda *args: "writer_independent")
    row = services.verification_build(
        signer=signer, context=context, data=b"x", embedding=np.zeros(4), quality={}, found_on_cheque=found_on_cheque
    )
    assert row.decision == expected and row.score == 0.01
    assert (row.reason or {}).get("code") == ("whole_cheque" if expected == "refer" else None)
    assert asked == [found_on_cheque]  # a found box is scored at the cheque pair, a clerk's box is not


def test_a_cheque_where_the_finder_finds_no_signature_is_referred_for_a_box(client_for, tiff_signer):
    """crop "auto" and nothing found: the layout rule's guess is the crop, and the item is referred
    with the quality check ``not_found`` for a clerk to draw the box, never decided on that guess."""
    import base64

    from apps.verifications import batch_runs

    unsigned, _ = draw_cheque(signature=Image.new("L", (10, 10), 255))
    signed, _ = draw_cheque(writer=1, sample=9)
    client = client_for("integrator")
    items = [
        {"signer": tiff_signer.external_id, "image": base64.b64encode(tiff(bilevel(page))).decode(), "crop": "auto"}
        for page in (unsigned, signed)
    ]
    created = client.post("/api/v1/verification-batches/", {"items": items}, format="json")
    assert created.status_code == 202, created.json()
    assert batch_runs.run_batch(created.json()["id"], worker="test@host") == "done"
    results = client.get(f"/api/v1/verification-batches/{created.json()['id']}/").json()["items"]
    assert [r["status"] for r in results] == ["done", "done"], results
    nothing, found = (client.get(f"/api/v1/verifications/{r['verification']}/").json() for r in results)
    assert nothing["decision"] == "refer" and nothing["crop"]  # the rule's box, recorded for the clerk
    assert nothing["reason"]["code"] == "image_quality" and "not_found" in nothing["reason"]["checks"]
    assert "no signature was found on the cheque" in nothing["reason"]["message"]
    assert "not_found" not in ((found["reason"] or {}).get("checks") or [])
