"""The image-quality gate through the API: an unusable image is decided ``refer`` with the
reason (``image_quality`` and the checks that failed), stored in the log and in the schema;
a dithered scan that descreening recovers is decided on its score. And bad input that is not
an image of a signature at all (no ink, over the pixel limit, a blank page 1) gets a clear 4xx
and nothing stored."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.conf import settings
from PIL import Image

from apps.verifications.models import Verification
from sigverify.synthetic_signatures import draw_signature
from testsupport.bad_inputs import png_claiming
from testsupport.synthetic_data import draw_cheque, png_bytes
from testsupport.uploads import media_files, upload

pytestmark = pytest.mark.django_db


def verify(client, signer, data: bytes, name="q.png", content_type="image/png", **extra):
    return client.post(
        "/api/v1/verifications/",
        {"signer": signer.external_id, "image": upload(data, name, content_type), **extra},
        format="multipart",
    )


def dots_over_strokes() -> bytes:
    """Strokes under a dense dot pattern that no low-pass separates from them."""
    dots = np.random.default_rng(4).random((220, 500)) < 0.45
    strokes = np.asarray(draw_signature(1, 5, size=(500, 220), ink=0, pen=2)) < 128
    return png_bytes(Image.fromarray(np.where(dots | strokes, 0, 255).astype(np.uint8)).convert("1"))


def faint() -> bytes:
    """Light strokes on paper with a scanner's noise."""
    grey = np.asarray(draw_signature(1, 5, size=(500, 220), paper=245, ink=215, pen=4), dtype=np.float32)
    grey += np.random.default_rng(1).normal(0, 8, grey.shape)
    return png_bytes(Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)))


@pytest.mark.parametrize(
    ("make", "check", "crop"),
    [
        (dots_over_strokes, "dithered", None),
        (faint, "faint", None),
        (lambda: png_bytes(draw_signature(1, 5, size=(500, 220), pen=4)), "clipped", "0,60,500,90"),
    ],
    ids=["dithered", "faint", "clipped"],
)
def test_an_unusable_image_is_referred_with_the_reason(client_for, enrolled_signer, make, check, crop):
    extra = {"crop": crop} if crop else {}
    response = verify(client_for("clerk"), enrolled_signer, make(), **extra)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["decision"] == "refer"
    reason = body["reason"]
    assert reason["code"] == "image_quality" and check in reason["checks"]
    assert len(reason["message"]) > 20 and body["quality"]["checks_failed"] == reason["checks"]
    stored = Verification.objects.get(pk=body["id"])
    assert stored.decision == "refer" and stored.reason == reason
    # The log shows it too, and the referral is in the clerk's work queue.
    listed = client_for("clerk").get("/api/v1/verifications/", {"decision": "refer"}).json()["results"]
    assert [row["reason"] for row in listed if row["id"] == body["id"]] == [reason]


def test_a_usable_image_has_no_reason(client_for, enrolled_signer):
    response = verify(client_for("clerk"), enrolled_signer, png_bytes(draw_signature(1, 5, size=(400, 200))))
    assert response.status_code == 201
    assert response.json()["reason"] is None and response.json()["quality"]["checks_failed"] == []


def test_a_dithered_scan_is_descreened_and_decided_like_its_thresholded_twin(client_for, enrolled_signer):
    grey = draw_signature(1, 5, size=(500, 220), paper=170, ink=30, pen=4)
    client = client_for("clerk")
    dithered = verify(client, enrolled_signer, png_bytes(grey.convert("1")))
    thresholded = verify(client, enrolled_signer, png_bytes(grey.convert("1", dither=Image.Dither.NONE)))
    assert dithered.status_code == thresholded.status_code == 201
    assert dithered.json()["quality"]["descreened"] is True and dithered.json()["reason"] is None
    assert dithered.json()["score"] == pytest.approx(thresholded.json()["score"], abs=0.1)


def test_the_reason_is_in_the_api_schema(client_for):
    schema = client_for("clerk").get("/api/v1/schema/", {"format": "json"}).json()
    verification = schema["components"]["schemas"]["Verification"]["properties"]
    assert "reason" in verification
    components = schema["components"]["schemas"]
    reason = components["DecisionReason"]["properties"]
    assert set(reason) == {"code", "checks", "message"}
    items = reason["checks"]["items"]
    if "$ref" in items:
        items = components[items["$ref"].rsplit("/", 1)[-1]]
    assert set(items["enum"]) >= {"dithered", "faint", "fragmented", "clipped", "too_small"}


# --- bad input: a clear 4xx and nothing stored --------------------------------------------------


def refused(client, signer, data, name, content_type, code):
    before_files, before_rows = media_files(settings.MEDIA_ROOT), Verification.objects.count()
    response = verify(client, signer, data, name, content_type)
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == code, error
    assert Verification.objects.count() == before_rows and media_files(settings.MEDIA_ROOT) == before_files
    return error["message"]


def test_no_ink_is_refused(client_for, enrolled_signer):
    message = refused(
        client_for("clerk"), enrolled_signer, png_bytes(Image.new("L", (400, 200), 250)), "w.png", "image/png", "no_ink"
    )
    assert "no ink" in message.lower()


def test_a_box_holding_only_the_printed_line_is_refused(client_for, enrolled_signer):
    line_only = Image.new("L", (500, 200), 255)
    line_only.paste(40, (0, 120, 500, 123))
    message = refused(client_for("clerk"), enrolled_signer, png_bytes(line_only), "l.png", "image/png", "no_ink")
    assert "printed lines only" in message


@pytest.mark.parametrize("side", [8_000, 20_000])
def test_a_cheque_over_the_pixel_limit_is_refused_in_the_products_words(client_for, enrolled_signer, side):
    """8000^2 is over the product's limit; 20000^2 trips Pillow's own guard first: one message."""
    message = refused(
        client_for("clerk"), enrolled_signer, png_claiming(side, side), "big.png", "image/png", "too_many_pixels"
    )
    assert f"{side * side:,} pixels" in message and f"{int(settings.SIGVERIFY_MAX_PIXELS):,}" in message
    assert "decompression" not in message.lower() and "dos" not in message.lower()


def test_a_multi_page_tiff_whose_first_page_is_blank_is_refused(client_for, enrolled_signer):
    blank = Image.new("L", (1200, 550), 255).convert("1")
    cheque, _ = draw_cheque(1, 9)
    buffer = io.BytesIO()
    blank.save(buffer, format="TIFF", compression="group4", save_all=True, append_images=[cheque.convert("1")])
    message = refused(client_for("clerk"), enrolled_signer, buffer.getvalue(), "c.tif", "image/tiff", "no_ink")
    assert "page 1" in message.lower() and "2-page" in message
