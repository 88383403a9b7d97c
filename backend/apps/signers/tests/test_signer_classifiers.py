"""Each signer's own classifier: fitted at enrollment, refitted whenever the active references
change (a removal brings the earlier one back) and for a new version by its promotion; the
verification's score fuses its margin. The model is a calibrated tiny model whose card fuses the
margin and ships a background (``testsupport.calibrated``)."""

import numpy as np
import pytest

from apps.core.images import preprocess_bytes
from apps.modelregistry import promotion as promotion_runs
from apps.modelregistry import services as registry
from apps.modelregistry.models import ModelVersion
from apps.modelregistry.serving import get_verifier
from apps.signers.models import SignerClassifier
from apps.signers.services import reference_delete, references_enroll, signer_create
from apps.verifications.services import verification_create
from testsupport.synthetic_data import signature_bytes
from testsupport.uploads import upload

pytestmark = pytest.mark.django_db


def enrolled(external_id, writer, samples):
    signer = signer_create(external_id=external_id, full_name=external_id)
    result = references_enroll(signer=signer, files=[upload(signature_bytes(writer, s)) for s in samples])
    assert not result.flagged and not result.rejected
    return signer, result


def active_ids(signer):
    return sorted(signer.references.filter(status="active").values_list("pk", flat=True))


def test_fitted_at_enrollment_refitted_on_change_and_fused_into_the_score(fused_version):
    enrolled("OTHER-1", 2, range(3))
    signer, _ = enrolled("ACC-4001", 1, range(3))
    row = SignerClassifier.objects.get(signer=signer, model_version=fused_version)
    assert row.reference_ids == active_ids(signer) and row.classifier["references"] == 3
    first = dict(row.classifier)
    assert row.classifier["negatives"] > 24  # the shipped background and the other signer's references

    data = signature_bytes(1, 9)
    verification = verification_create(signer=signer, image=upload(data))
    verifier = get_verifier(fused_version)
    query = verifier.embed_arrays([preprocess_bytes(data, fused_version.input_size)[0]])[0]
    references = np.stack([e.as_array() for r in signer.references.order_by("pk") for e in r.embeddings.all()])
    plain = verifier.score(query, references).score
    assert verification.score != pytest.approx(plain, abs=1e-6)  # the margin entered the score

    added = references_enroll(signer=signer, files=[upload(signature_bytes(1, 5))]).accepted[0]
    row.refresh_from_db()
    assert row.reference_ids == active_ids(signer) and len(row.reference_ids) == 4
    assert row.classifier != first

    reference_delete(added)
    row.refresh_from_db()
    assert row.reference_ids == active_ids(signer) and row.classifier == first
    again = verification_create(signer=signer, image=upload(data))
    assert (again.score, again.decision) == (verification.score, verification.decision)


def test_refitted_for_a_new_version_by_its_promotion(fused_version, fused_model_dirs, make_user):
    signer, _ = enrolled("ACC-4002", 1, range(3))
    new, _ = registry.model_version_register(fused_model_dirs[1])
    assert not SignerClassifier.objects.filter(model_version=new).exists()

    promotion = registry.promotion_start(version=new, requested_by=make_user("ml_staff"))
    assert promotion_runs.run_promotion(promotion.pk) == "succeeded"

    assert ModelVersion.objects.get(pk=new.pk).is_active
    row = SignerClassifier.objects.get(signer=signer, model_version=new)
    assert row.reference_ids == active_ids(signer) and row.classifier["model_sha256"] == new.sha256
    old = SignerClassifier.objects.get(signer=signer, model_version=fused_version)
    assert old.classifier["weights"] != row.classifier["weights"]


def test_a_version_without_a_fused_calibration_fits_none(enrolled_signer, active_version):
    assert not SignerClassifier.objects.exists()
