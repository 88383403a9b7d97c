"""A cheque's signatures are scored as a verification scores them (``signers.scoring.score_against``,
one code path): with the signatory's own classifier where the version fuses one and it is fitted on
their current references, without it (and saying so) while the refit is pending. The cheque
decision's JSON records which scoring each candidate and each matched signature used."""

from __future__ import annotations

import pytest

from apps.mandates import services
from apps.signers.services import references_enroll, signer_create
from apps.verifications.services import verification_create
from testsupport.cheques import cheque_bytes
from testsupport.synthetic_data import signature_bytes
from testsupport.uploads import upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def worker(django_capture_on_commit_callbacks):
    """``with worker():`` the classifier refits queued inside it run when it ends, as a worker runs them."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield lambda: django_capture_on_commit_callbacks(execute=True)
    app.conf.task_always_eager = before


def signatory(account, external_id, writer, fitted: bool, worker):
    signer = signer_create(external_id=external_id, full_name=external_id)
    files = [upload(signature_bytes(writer, s, size=(204, 110))) for s in range(4)]
    if fitted:
        with worker():
            references_enroll(signer=signer, files=files)
    else:  # the refit is only queued: no worker has run it yet
        references_enroll(signer=signer, files=files)
    services.signatory_add(account=account, signer=external_id, group="A")
    return signer


def candidate(signature, external_id):
    return next(c for c in signature["candidates"] if c["signer"] == external_id)


def test_cheque_candidates_use_the_signers_classifier_where_fitted_and_say_which(fused_version, worker):
    account = services.account_create(number="55550001", name="Fused Ltd")
    fitted = signatory(account, "DIR-1", 1, True, worker)
    pending = signatory(account, "DIR-2", 2, False, worker)
    data = cheque_bytes([(1, False), (2, False)])

    cheque = services.cheque_decide(account_number=account.number, image=data, amount="100.00")
    assert cheque.signatures, "the drawn cheque's signatures were found"
    for signature in cheque.signatures:
        assert candidate(signature, "DIR-1")["scoring"] == "signer_classifier"
        assert candidate(signature, "DIR-2")["scoring"] == "writer_independent_pending"
        matched = signature["signer"]
        assert signature["scoring"] == (None if matched is None else candidate(signature, matched)["scoring"])

    # One code path: each candidate's score is what a verification of that box for that signer gives.
    for signature in cheque.signatures:
        crop = signature["box"]
        for signer in (fitted, pending):
            verification = verification_create(signer=signer, image=upload(data), crop=crop)
            expected = candidate(signature, signer.external_id)
            assert expected["score"] == pytest.approx(verification.score, abs=1e-4)  # batched vs one: float noise
            assert expected["scoring"] == verification.scoring


def test_a_version_that_fuses_no_classifier_scores_cheques_writer_independent(two_of_three, client_for):
    response = client_for("clerk").post(
        "/api/v1/cheques/",
        {"account": two_of_three.number, "amount": "100.00", "image": upload(cheque_bytes([(1, False), (2, False)]))},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    signatures = response.json()["signatures"]
    assert signatures and all(c["scoring"] == "writer_independent" for s in signatures for c in s["candidates"])
    assert all(s["scoring"] in (None, "writer_independent") for s in signatures)
