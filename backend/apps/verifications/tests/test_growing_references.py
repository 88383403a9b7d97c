"""References that grow: a review confirming a verification as genuine adds that signature to
the signer's references only under the bank's policy, below the cap and when it is consistent
with the references; removing it again restores the earlier decisions.

The model is ``testsupport.calibrated``'s tiny model (it tells synthetic writers apart)."""

import numpy as np
import pytest
from django.core.files.storage import default_storage

from apps.core.images import preprocess_bytes
from apps.signers.models import ReferenceSignature
from apps.signers.services import references_enroll, signer_create
from apps.verifications.models import Review
from apps.verifications.services import review_create, verification_create
from sigverify.synthetic_signatures import draw_signature
from testsupport.synthetic_data import draw_cheque, png_bytes, signature_bytes
from testsupport.uploads import upload

pytestmark = pytest.mark.django_db

SIGNER = 1
OTHER_PERSON = 7


@pytest.fixture
def signer3(calibrated_version):
    """Writer 1 with three card references."""
    signer = signer_create(external_id="ACC-3001", full_name="Growing Signer")
    result = references_enroll(
        signer=signer, files=[upload(signature_bytes(SIGNER, s), f"card-{s}.png") for s in range(3)]
    )
    assert len(result.accepted) == 3 and not result.flagged
    return signer


@pytest.fixture
def grow(settings):
    settings.SIGVERIFY_GROW_REFERENCES = True
    settings.SIGVERIFY_MAX_REFERENCES = 10
    settings.SIGVERIFY_GROW_MIN_DECISION = "refer"
    return settings


def confirm(verification, make_user) -> Review:
    return review_create(
        verification=verification, reviewer=make_user("clerk"), final_decision="genuine", comment="known customer"
    )


def decisions(signer, questioned):
    rows = [verification_create(signer=signer, image=upload(data)) for data in questioned]
    return [(round(r.score, 9), r.decision, r.reference_count) for r in rows]


QUESTIONED = [signature_bytes(SIGNER, s) for s in (20, 21)] + [
    signature_bytes(SIGNER, 22, forged=True),
    signature_bytes(OTHER_PERSON, 23),
]


def test_off_by_default_a_confirmed_cheque_is_not_added(signer3, make_user):
    verification = verification_create(signer=signer3, image=upload(signature_bytes(SIGNER, 5)))
    review = confirm(verification, make_user)
    assert review.reference_growth["added"] is False and review.reference_growth["code"] == "policy_off"
    assert signer3.references.count() == 3


def test_under_the_policy_a_confirmed_cheque_becomes_a_reference_and_removing_it_restores_decisions(
    signer3, grow, make_user, client_for
):
    before = decisions(signer3, QUESTIONED)
    assert {r for _, _, r in before} == {3}

    cheque, box = draw_cheque(signature=draw_signature(SIGNER, 5), signature_at=(0.58, 0.5))
    verification = verification_create(signer=signer3, image=upload(png_bytes(cheque)), crop=list(box))
    client = client_for("clerk")
    answer = client.post(
        f"/api/v1/verifications/{verification.pk}/review/", {"final_decision": "genuine", "comment": "ok"}
    )
    assert answer.status_code == 201, answer.json()
    growth = answer.json()["reference_growth"]
    assert growth["added"] is True and growth["code"] == "added", growth
    grown = ReferenceSignature.objects.get(pk=growth["reference"])
    assert grown.signer == signer3 and grown.status == "active"
    assert grown.source == "confirmed_cheque" and grown.source_verification_id == verification.pk
    # The stored image is the signature box, which preprocesses to what the verification saw.
    with default_storage.open(grown.image.name, "rb") as fh:
        stored = fh.read()
    with default_storage.open(verification.image.name, "rb") as fh:
        questioned = fh.read()
    size = verification.model_version.input_size
    assert np.array_equal(preprocess_bytes(stored, size)[0], preprocess_bytes(questioned, size, crop=box)[0])

    listed = client_for("integrator").get(f"/api/v1/signers/{signer3.external_id}/references/").json()["results"]
    assert [(r["source"], r["source_verification_id"]) for r in listed][-1] == ("confirmed_cheque", verification.pk)

    grown_decisions = decisions(signer3, QUESTIONED)
    assert {r for _, _, r in grown_decisions} == {4}
    assert [s for s, _, _ in grown_decisions] != [s for s, _, _ in before]

    removed = client_for("integrator").delete(f"/api/v1/signers/{signer3.external_id}/references/{grown.pk}/")
    assert removed.status_code == 204
    assert decisions(signer3, QUESTIONED) == before


def test_the_cap_stops_growth(signer3, grow, make_user):
    grow.SIGVERIFY_MAX_REFERENCES = 3
    verification = verification_create(signer=signer3, image=upload(signature_bytes(SIGNER, 5)))
    review = confirm(verification, make_user)
    assert review.reference_growth["code"] == "reference_cap" and not review.reference_growth["added"]
    assert signer3.references.count() == 3


def test_a_signature_inconsistent_with_the_references_is_not_added(signer3, grow, make_user):
    # A clerk confirms another person's signature: the references stay as they were.
    verification = verification_create(signer=signer3, image=upload(signature_bytes(OTHER_PERSON, 5)))
    assert verification.score < verification.thresholds["reject"]
    review = confirm(verification, make_user)
    assert review.reference_growth["code"] == "inconsistent" and not review.reference_growth["added"]
    assert review.reference_growth["score"] == pytest.approx(verification.score, abs=1e-6)
    assert signer3.references.count() == 3


@pytest.mark.parametrize("rule, added", [("genuine", False), ("refer", True)])
def test_the_rule_sets_how_consistent_it_must_be(signer3, grow, make_user, rule, added):
    grow.SIGVERIFY_GROW_MIN_DECISION = rule
    # This sample of the signer scores between the reject and the accept threshold (the model refers it).
    verification = verification_create(signer=signer3, image=upload(signature_bytes(SIGNER, 16)))
    assert verification.decision == "refer"
    review = confirm(verification, make_user)
    assert review.reference_growth["added"] is added
    assert review.reference_growth["code"] == ("added" if added else "inconsistent")
    assert signer3.references.count() == 3 + added


def test_a_forgery_call_adds_nothing(signer3, grow, make_user):
    verification = verification_create(signer=signer3, image=upload(signature_bytes(SIGNER, 5)))
    review = review_create(
        verification=verification, reviewer=make_user("clerk"), final_decision="forgery", comment="not theirs"
    )
    assert review.reference_growth == {}
    assert signer3.references.count() == 3
