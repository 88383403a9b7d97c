"""The review rules live in the service, so the API, the admin and the interface all obey
them: a comment is required to overrule the model, one review per verification; and the
clerks' work queue (referred, not yet reviewed) is a list filter."""

import pytest
from django.urls import reverse

from apps.verifications import services
from apps.verifications.models import Review, Verification

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_verification(enrolled_signer, active_version):
    """A logged verification with the model's decision chosen by the test."""

    def _make(decision: str, cheque: str = "") -> Verification:
        score = {"genuine": 0.9, "refer": 0.5, "forgery": 0.1}[decision]
        return Verification.objects.create(
            signer=enrolled_signer,
            image=f"verifications/test/{decision}.png",
            image_sha256="0" * 64,
            score=score,
            decision=decision,
            thresholds={"accept": 0.6, "reject": 0.4},
            model_version=active_version,
            processing_ms=1,
            cheque_reference=cheque,
        )

    return _make


# --- the service ----------------------------------------------------------------------------------


@pytest.mark.parametrize("model, final", [("genuine", "forgery"), ("forgery", "genuine")])
@pytest.mark.parametrize("comment", ["", "   \n "])
def test_overruling_without_a_comment_is_refused_and_stores_nothing(
    make_verification, make_user, model, final, comment
):
    verification = make_verification(model)
    with pytest.raises(services.CommentRequired) as refused:
        services.review_create(
            verification=verification, reviewer=make_user("clerk"), final_decision=final, comment=comment
        )
    assert refused.value.http_status == 400 and refused.value.code == "comment_required"
    assert list(refused.value.fields) == ["comment"]
    assert not Review.objects.exists()


@pytest.mark.parametrize(
    "model, final, comment",
    [
        ("genuine", "genuine", ""),  # confirming needs no comment
        ("forgery", "forgery", ""),
        ("refer", "genuine", ""),  # after a referral every call is the human's own
        ("refer", "forgery", ""),
        ("genuine", "forgery", "customer denies writing it"),
    ],
)
def test_allowed_reviews_are_recorded(make_verification, make_user, model, final, comment):
    verification = make_verification(model)
    clerk = make_user("clerk")
    review = services.review_create(verification=verification, reviewer=clerk, final_decision=final, comment=comment)
    assert (review.final_decision, review.comment, review.reviewer) == (final, comment, clerk)
    assert Verification.objects.get(pk=verification.pk).decision == model  # the model's answer stays


def test_one_review_per_verification_and_only_genuine_or_forgery(make_verification, make_user):
    from apps.core.exceptions import Conflict, ServiceError

    verification = make_verification("refer")
    with pytest.raises(ServiceError) as bad:
        services.review_create(verification=verification, reviewer=make_user("clerk"), final_decision="refer")
    assert "final_decision" in bad.value.fields
    services.review_create(verification=verification, reviewer=make_user("clerk"), final_decision="forgery")
    with pytest.raises(Conflict):
        services.review_create(verification=verification, reviewer=make_user("clerk"), final_decision="genuine")
    assert Review.objects.count() == 1


# --- the API ---------------------------------------------------------------------------------------


def test_api_maps_the_service_rule_to_a_field_error(client_for, make_verification):
    verification = make_verification("genuine")
    client = client_for("clerk")
    url = f"/api/v1/verifications/{verification.pk}/review/"
    refused = client.post(url, {"final_decision": "forgery", "comment": " "}, format="json")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "comment_required"
    assert error["fields"] == {"comment": ["A comment is required when the review overrules the model's decision."]}
    assert not Review.objects.exists()
    accepted = client.post(url, {"final_decision": "forgery", "comment": "signature card differs"}, format="json")
    assert accepted.status_code == 201 and accepted.json()["reviewer"] == client.user.username


def test_work_queue_filter_referred_and_not_yet_reviewed(client_for, make_verification, make_user):
    waiting = make_verification("refer", "Q-1")
    done = make_verification("refer", "Q-2")
    make_verification("genuine", "G-1")
    services.review_create(verification=done, reviewer=make_user("clerk"), final_decision="genuine")
    queue = client_for("clerk").get("/api/v1/verifications/", {"decision": "refer", "reviewed": "false"}).json()
    assert [row["cheque_reference"] for row in queue["results"]] == ["Q-1"]
    assert queue["results"][0]["id"] == waiting.pk and queue["results"][0]["review"] is None


# --- the admin -------------------------------------------------------------------------------------


@pytest.fixture
def admin_user(make_user):
    return make_user("admin", username="chief", is_staff=True)


def test_admin_review_form_obeys_the_comment_rule(client, admin_user, make_verification):
    client.force_login(admin_user)
    verification = make_verification("genuine")
    add = reverse("admin:verifications_review_add")
    change = client.get(reverse("admin:verifications_verification_change", args=[verification.pk]))
    assert f"{add}?verification={verification.pk}" in change.content.decode()
    assert client.get(add, {"verification": verification.pk}).status_code == 200

    refused = client.post(add, {"verification": verification.pk, "final_decision": "forgery", "comment": ""})
    assert refused.status_code == 200  # the form again, with the service's message on the comment
    assert refused.context["adminform"].form.errors == {
        "comment": ["A comment is required when the review overrules the model's decision."]
    }
    assert not Review.objects.exists()

    saved = client.post(add, {"verification": verification.pk, "final_decision": "forgery", "comment": "forged"})
    assert saved.status_code == 302, saved.content.decode()[:2000]
    review = Review.objects.get()
    assert (review.verification, review.final_decision, review.comment, review.reviewer) == (
        verification,
        "forgery",
        "forged",
        admin_user,
    )

    again = client.post(add, {"verification": verification.pk, "final_decision": "forgery", "comment": "twice"})
    assert again.status_code == 200 and "verification" in again.context["adminform"].form.errors
    assert Review.objects.count() == 1
    review_change = reverse("admin:verifications_review_change", args=[review.pk])
    assert client.post(review_change, {"final_decision": "genuine", "comment": "x"}).status_code == 403
    assert (
        client.post(reverse("admin:verifications_review_delete", args=[review.pk]), {"post": "yes"}).status_code == 403
    )


def test_admin_review_needs_the_add_review_permission(client, make_user, make_verification):
    verification = make_verification("refer")
    client.force_login(make_user("ml_staff", username="ml-staff-member", is_staff=True))
    add = reverse("admin:verifications_review_add")
    assert client.post(add, {"verification": verification.pk, "final_decision": "genuine"}).status_code == 403
    assert not Review.objects.exists()
