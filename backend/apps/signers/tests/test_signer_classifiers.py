"""Each signer's own classifier: fitted on a worker after enrollment, refitted whenever the active
references change (a removal brings the earlier one back) and for a new version by its promotion; the
verification's score fuses its margin, and until the queued refit has run it is scored without it and
says so. The model is a calibrated tiny model whose card fuses the margin and ships a background
(``testsupport.calibrated``)."""

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


@pytest.fixture
def worker(django_capture_on_commit_callbacks):
    """``with worker():`` the refits the services queue inside it run when it ends, as a worker runs them
    (the test's transaction never commits, so nothing would be sent otherwise)."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield lambda: django_capture_on_commit_callbacks(execute=True)
    app.conf.task_always_eager = before


def enrolled(external_id, writer, samples, worker):
    signer = signer_create(external_id=external_id, full_name=external_id)
    with worker():
        result = references_enroll(signer=signer, files=[upload(signature_bytes(writer, s)) for s in samples])
    assert not result.flagged and not result.rejected
    return signer, result


def active_ids(signer):
    return sorted(signer.references.filter(status="active").values_list("pk", flat=True))


def test_fitted_at_enrollment_refitted_on_change_and_fused_into_the_score(fused_version, worker):
    enrolled("OTHER-1", 2, range(3), worker)
    signer, _ = enrolled("ACC-4001", 1, range(3), worker)
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
    assert verification.scoring == "signer_classifier"

    with worker():
        added = references_enroll(signer=signer, files=[upload(signature_bytes(1, 5))]).accepted[0]
    row.refresh_from_db()
    assert row.reference_ids == active_ids(signer) and len(row.reference_ids) == 4
    assert row.classifier != first

    with worker():
        reference_delete(added)
    row.refresh_from_db()
    assert row.reference_ids == active_ids(signer) and row.classifier == first
    again = verification_create(signer=signer, image=upload(data))
    assert (again.score, again.decision) == (verification.score, verification.decision)


def test_until_the_queued_refit_has_run_the_score_is_writer_independent_and_says_so(fused_version, worker):
    enrolled("OTHER-1", 2, range(3), worker)
    signer = signer_create(external_id="ACC-4003", full_name="ACC-4003")
    references_enroll(signer=signer, files=[upload(signature_bytes(1, s)) for s in range(3)])  # refit queued only
    assert not SignerClassifier.objects.filter(signer=signer).exists()

    data = signature_bytes(1, 9)
    before = verification_create(signer=signer, image=upload(data))
    assert before.scoring == "writer_independent_pending"
    verifier = get_verifier(fused_version)
    query = verifier.embed_arrays([preprocess_bytes(data, fused_version.input_size)[0]])[0]
    references = np.stack([e.as_array() for r in signer.references.order_by("pk") for e in r.embeddings.all()])
    assert before.score == pytest.approx(verifier.score(query, references).score, abs=1e-6)  # distances only

    with worker():  # the refit that was queued (as a worker takes it from the queue)
        from apps.signers.tasks import refit_signer_classifier

        assert refit_signer_classifier.delay(signer.pk).get() == "fitted"
    after = verification_create(signer=signer, image=upload(data))
    assert after.scoring == "signer_classifier" and after.score != pytest.approx(before.score, abs=1e-6)
    body = verification_api_answer(after)
    assert body["scoring"] == "signer_classifier"


def verification_api_answer(verification):
    from apps.verifications.api.serializers import VerificationSerializer

    return VerificationSerializer(verification, context={"request": None}).data


def test_refitted_for_a_new_version_by_its_promotion(fused_version, fused_model_dirs, make_user, worker):
    signer, _ = enrolled("ACC-4002", 1, range(3), worker)
    new, _ = registry.model_version_register(fused_model_dirs[1])
    assert not SignerClassifier.objects.filter(model_version=new).exists()

    promotion = registry.promotion_start(version=new, requested_by=make_user("ml_staff"))
    assert promotion_runs.run_promotion(promotion.pk) == "succeeded"

    assert ModelVersion.objects.get(pk=new.pk).is_active
    row = SignerClassifier.objects.get(signer=signer, model_version=new)
    assert row.reference_ids == active_ids(signer) and row.classifier["model_sha256"] == new.sha256
    old = SignerClassifier.objects.get(signer=signer, model_version=fused_version)
    assert old.classifier["weights"] != row.classifier["weights"]


def test_a_version_without_a_fused_calibration_fits_none(enrolled_signer, active_version, worker):
    with worker():
        references_enroll(signer=enrolled_signer, files=[upload(signature_bytes(1, 7))])
    assert not SignerClassifier.objects.exists()
    verification = verification_create(signer=enrolled_signer, image=upload(signature_bytes(1, 9)))
    assert verification.scoring == "writer_independent"
