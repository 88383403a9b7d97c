"""Enrollment consistency: a reference far from the signer's others is flagged at upload and
kept out of verification until a person accepts it; reference provenance and who may settle it.

The model is ``testsupport.calibrated``'s tiny model, whose scoring tells synthetic writers
apart; writer 1 is the signer, writer 7 signs someone else's card."""

import pytest

from apps.signers.models import ReferenceSignature
from apps.signers.services import references_enroll, signer_create
from apps.verifications.services import verification_create
from testsupport.synthetic_data import signature_bytes
from testsupport.uploads import upload

pytestmark = pytest.mark.django_db

SIGNER = 1
OTHER_PERSON = 7


def references_url(signer, *parts):
    return "/".join([f"/api/v1/signers/{signer.external_id}/references", *map(str, parts)]) + "/"


def card(writer, samples, prefix="ref"):
    return [upload(signature_bytes(writer, s), f"{prefix}-{writer}-{s}.png") for s in samples]


@pytest.fixture
def card_signer(calibrated_version):
    return signer_create(external_id="ACC-2001", full_name="Card Holder")


def compared_with(verification) -> set[int]:
    return {d["reference"] for d in verification.distances}


def test_a_wrong_persons_signature_on_the_card_is_flagged_and_unused_until_accepted(card_signer, client_for):
    integrator = client_for("integrator")
    files = card(SIGNER, range(3)) + card(OTHER_PERSON, [0], prefix="intruder")
    response = integrator.post(references_url(card_signer), {"images": files}, format="multipart")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert sorted(r["original_name"] for r in body["accepted"]) == [f"ref-{SIGNER}-{s}.png" for s in range(3)]
    assert [r["original_name"] for r in body["flagged"]] == [f"intruder-{OTHER_PERSON}-0.png"]
    flagged = body["flagged"][0]
    assert flagged["status"] == "pending_review" and flagged["source"] == "signature_card"
    assert flagged["flag"]["code"] == "inconsistent_reference"
    assert flagged["flag"]["score"] < flagged["flag"]["reject_threshold"]
    assert flagged["flag"]["compared_with"] == 3
    assert all(r["status"] == "active" and r["flag"] is None for r in body["accepted"])

    signer_row = integrator.get(f"/api/v1/signers/{card_signer.external_id}/").json()
    assert (signer_row["reference_count"], signer_row["pending_reference_count"]) == (3, 1)

    # Not used: a verification compares with the three accepted references only.
    active_ids = {r["id"] for r in body["accepted"]}
    before = verification_create(signer=card_signer, image=upload(signature_bytes(SIGNER, 9)))
    assert compared_with(before) == active_ids and before.reference_count == 3

    accepted = integrator.post(references_url(card_signer, flagged["id"], "accept"))
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["status"] == "active"
    assert accepted.json()["reviewed_by"] == integrator.user.username and accepted.json()["reviewed_at"]
    after = verification_create(signer=card_signer, image=upload(signature_bytes(SIGNER, 9)))
    assert compared_with(after) == active_ids | {flagged["id"]} and after.reference_count == 4
    # Settled once: a second accept (or a reject) is a conflict.
    again = integrator.post(references_url(card_signer, flagged["id"], "reject"))
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_pending_review"


def test_a_later_upload_is_checked_against_the_active_references_and_a_rejected_one_is_never_used(
    card_signer, client_for
):
    first = references_enroll(signer=card_signer, files=card(SIGNER, range(3)))
    assert len(first.accepted) == 3 and not first.flagged
    later = references_enroll(signer=card_signer, files=card(OTHER_PERSON, [1]) + card(SIGNER, [4]))
    assert [r.original_name for r in later.accepted] == [f"ref-{SIGNER}-4.png"]
    assert [r.original_name for r in later.flagged] == [f"ref-{OTHER_PERSON}-1.png"]
    intruder = later.flagged[0]

    integrator = client_for("integrator")
    pending = integrator.get(references_url(card_signer), {"status": "pending_review"}).json()
    assert [r["id"] for r in pending["results"]] == [intruder.pk]
    assert integrator.get(references_url(card_signer), {"status": "nonsense"}).status_code == 400

    rejected = integrator.post(references_url(card_signer, intruder.pk, "reject"))
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    verification = verification_create(signer=card_signer, image=upload(signature_bytes(SIGNER, 9)))
    assert intruder.pk not in compared_with(verification) and verification.reference_count == 4
    assert integrator.post(references_url(card_signer, intruder.pk, "accept")).status_code == 409


def test_a_consistent_card_is_not_flagged(card_signer):
    # Writer 10's five samples are all close to each other under this model (writer 1's fifth is not:
    # a genuine outlier, which a person would accept).
    result = references_enroll(signer=card_signer, files=card(10, range(5)))
    assert len(result.accepted) == 5 and not result.flagged and not result.rejected


def test_a_single_first_reference_has_nothing_to_be_checked_against(card_signer):
    result = references_enroll(signer=card_signer, files=card(OTHER_PERSON, [0]))
    assert len(result.accepted) == 1 and not result.flagged


def test_clerks_see_provenance_but_cannot_settle_or_remove(card_signer, client_for):
    result = references_enroll(signer=card_signer, files=card(SIGNER, range(3)) + card(OTHER_PERSON, [0]))
    flagged = result.flagged[0]
    clerk = client_for("clerk")
    listed = clerk.get(references_url(card_signer)).json()["results"]
    assert {r["status"] for r in listed} == {"active", "pending_review"}
    for row in listed:
        assert row["source"] == "signature_card" and row["source_verification_id"] is None and row["created_at"]
    assert clerk.post(references_url(card_signer, flagged.pk, "accept")).status_code == 403
    assert clerk.post(references_url(card_signer, flagged.pk, "reject")).status_code == 403
    assert clerk.delete(references_url(card_signer, flagged.pk)).status_code == 403
    assert ReferenceSignature.objects.get(pk=flagged.pk).status == "pending_review"

    integrator = client_for("integrator")
    assert integrator.delete(references_url(card_signer, flagged.pk)).status_code == 204
    assert not ReferenceSignature.objects.filter(pk=flagged.pk).exists()


def test_admin_lists_flagged_references_and_accepts_them(card_signer, client, make_user):
    admin_user = make_user("admin", username="chief", is_staff=True)
    result = references_enroll(signer=card_signer, files=card(SIGNER, range(3)) + card(OTHER_PERSON, [0]))
    flagged = result.flagged[0]
    client.force_login(admin_user)
    page = client.get("/admin/signers/referencesignature/", {"status__exact": "pending_review"})
    assert page.status_code == 200
    assert f"{flagged.flag['score']:.3f}" in page.content.decode()
    response = client.post(
        "/admin/signers/referencesignature/", {"action": "accept", "_selected_action": [flagged.pk]}, follow=True
    )
    assert response.status_code == 200
    flagged.refresh_from_db()
    assert flagged.status == "active" and flagged.reviewed_by == admin_user
