"""A verification records the R it used and is decided with the version's thresholds for that R."""

import pytest

from apps.modelregistry.models import ModelVersion
from apps.signers.services import references_enroll, signer_create
from apps.verifications.services import verification_create
from testsupport.synthetic_data import signature_bytes
from testsupport.uploads import upload

pytestmark = pytest.mark.django_db

PER_R = {"1": {"accept": 0.97, "reject": 0.05}, "3": {"accept": 0.7, "reject": 0.3}}


@pytest.mark.parametrize("references, bucket", [(1, 1), (2, 1), (3, 3), (4, 3)])
def test_each_verification_records_its_r_and_the_pair_of_that_r(active_version, references, bucket):
    ModelVersion.objects.filter(pk=active_version.pk).update(
        thresholds={**active_version.thresholds, "by_references": PER_R}
    )
    signer = signer_create(external_id=f"R-{references}", full_name="Per R")
    references_enroll(signer=signer, files=[upload(signature_bytes(1, s)) for s in range(references)])

    verification = verification_create(signer=signer, image=upload(signature_bytes(1, 9)))

    assert verification.reference_count == references == len(verification.distances)
    pair = PER_R[str(bucket)]
    assert verification.thresholds["references"] == bucket
    assert (verification.thresholds["accept"], verification.thresholds["reject"]) == (pair["accept"], pair["reject"])
    expected = "genuine" if verification.score >= pair["accept"] else "refer"
    assert verification.decision == ("forgery" if verification.score < pair["reject"] else expected)


def test_a_version_with_one_pair_uses_it_for_every_r(enrolled_signer, active_version):
    verification = verification_create(signer=enrolled_signer, image=upload(signature_bytes(1, 9)))
    assert verification.reference_count == 3
    assert verification.thresholds["references"] is None
    assert (verification.thresholds["accept"], verification.thresholds["reject"]) == (0.6, 0.4)
