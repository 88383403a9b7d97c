"""Bad whole-cheque input gets the same clear 4xx on every endpoint that takes a whole cheque
(verifications, signature regions, cheques), and nothing is stored: no ink, a cheque over the
pixel limit, and a multi-page TIFF whose page 1 (the front) is blank (the rule: page 1 is the
page checked; a later page is never used in its place)."""

from __future__ import annotations

import pytest
from django.conf import settings

from apps.mandates.models import ChequeDecision
from apps.verifications.models import Verification
from testsupport.bad_inputs import whole_cheque_bad_inputs
from testsupport.uploads import media_files, upload

pytestmark = pytest.mark.django_db

BAD = whole_cheque_bad_inputs()


def stored() -> tuple:
    return Verification.objects.count(), ChequeDecision.objects.count(), media_files(settings.MEDIA_ROOT)


@pytest.fixture
def post(client_for, two_of_three, enrolled_signer):
    clerk = client_for("clerk")

    def _post(endpoint: str, item):
        image = upload(item.data, item.filename, "image/tiff" if item.filename.endswith(".tif") else "image/png")
        body = {
            "verifications": {"signer": enrolled_signer.external_id, "image": image},
            "signature-region": {"image": image},
            "cheques": {"account": two_of_three.number, "amount": "100.00", "image": image},
        }[endpoint]
        return clerk.post(f"/api/v1/{endpoint}/", body, format="multipart")

    return _post


@pytest.mark.parametrize("endpoint", ["verifications", "signature-region", "cheques"])
@pytest.mark.parametrize("item", BAD, ids=[item.name for item in BAD])
def test_bad_whole_cheques_are_refused_alike_and_nothing_is_stored(post, endpoint, item):
    before = stored()
    response = post(endpoint, item)
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["code"] in item.codes, error
    assert stored() == before
    if item.name == "tiff_first_page_blank":
        assert "page 1 (the front) of this 2-page file" in error["message"].lower()
    if item.name == "cheque_over_pixel_limit":
        assert f"{int(settings.SIGVERIFY_MAX_PIXELS):,}" in error["message"]


def test_the_same_cheque_with_ink_on_page_1_is_accepted_everywhere(post):
    """The control: the page 2 of the refused TIFF, as page 1, is a cheque every endpoint takes."""
    import io

    from PIL import Image

    from testsupport.bad_inputs import BadInput, tiff_blank_first_page

    pages = Image.open(io.BytesIO(tiff_blank_first_page()))
    pages.seek(1)
    buffer = io.BytesIO()
    pages.convert("1").save(buffer, format="TIFF", compression="group4")
    front = BadInput("front", "cheque.tif", buffer.getvalue(), "legal")
    assert post("signature-region", front).status_code == 200
    assert post("cheques", front).status_code == 201
