"""Django admin: signers with reference thumbnails, read-only verifications, model versions, users."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_logged_in(client, make_user):
    user = make_user(username="boss", is_superuser=True, is_staff=True)
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:signers_signer_changelist",
        "admin:verifications_verification_changelist",
        "admin:verifications_review_changelist",
        "admin:modelregistry_modelversion_changelist",
        "admin:auth_user_changelist",
        "admin:auth_group_changelist",
    ],
)
def test_admin_lists_open(admin_client_logged_in, verification, url_name):
    assert admin_client_logged_in.get(reverse(url_name)).status_code == 200


def test_signer_page_shows_reference_thumbnails(admin_client_logged_in, enrolled_signer):
    page = admin_client_logged_in.get(reverse("admin:signers_signer_change", args=[enrolled_signer.pk]))
    assert page.status_code == 200
    reference = enrolled_signer.references.first()
    image_url = reverse("admin:signers_reference_image", args=[reference.pk])
    assert image_url in page.content.decode()
    thumb = admin_client_logged_in.get(image_url + "?thumb=1")
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/png"
    original = admin_client_logged_in.get(image_url)
    assert original.content == reference.image.open("rb").read()


def test_verification_admin_is_read_only_with_preview(admin_client_logged_in, verification):
    change = admin_client_logged_in.get(reverse("admin:verifications_verification_change", args=[verification.pk]))
    assert change.status_code == 200
    assert reverse("admin:verifications_verification_image", args=[verification.pk]) in change.content.decode()
    assert b'name="_save"' not in change.content
    assert admin_client_logged_in.get(reverse("admin:verifications_verification_add")).status_code == 403
    post = admin_client_logged_in.post(
        reverse("admin:verifications_verification_change", args=[verification.pk]), {"decision": "genuine"}
    )
    assert post.status_code == 403
    listing = admin_client_logged_in.get(
        reverse("admin:verifications_verification_changelist"),
        {"q": verification.signer.external_id, "decision__exact": verification.decision},
    )
    assert listing.status_code == 200 and str(verification.signer) in listing.content.decode()


def test_admin_images_need_staff(client, make_user, enrolled_signer):
    reference = enrolled_signer.references.first()
    url = reverse("admin:signers_reference_image", args=[reference.pk])
    assert client.get(url).status_code == 302  # to the admin login
    client.force_login(make_user("clerk", is_staff=False))
    assert client.get(url).status_code == 302
