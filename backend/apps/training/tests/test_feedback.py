"""The feedback loop: reviewed verifications become labelled training data, and a training
job trains on them."""

import csv
import io

import pytest
from PIL import Image

from apps.modelregistry.models import ModelVersion
from apps.training import runs
from apps.training.feedback import export_labelled_data
from apps.training.models import TrainingJob
from sigverify.datasets import read_manifest, scan
from testsupport.synthetic_data import signature_bytes
from testsupport.uploads import upload

from .factories import TINY_TRAIN_OPTIONS

SIGNERS = 4


def cheque_with_signature(writer: int, sample: int) -> tuple[bytes, list[int]]:
    """A wider 'cheque' with the signature pasted at a known box: (PNG bytes, crop)."""
    signature = Image.open(io.BytesIO(signature_bytes(writer, sample)))
    page = Image.new("RGB", (700, 400), "white")
    page.paste(signature, (350, 200))
    out = io.BytesIO()
    page.save(out, format="PNG")
    return out.getvalue(), [350, 200, signature.width, signature.height]


@pytest.fixture
def bank_data(active_version, make_user):
    """4 signers with 3 references each; per signer one verification reviewed genuine (sent as
    a cheque with a crop), one reviewed forgery (another writer's hand) and one not reviewed."""
    from apps.signers.services import references_enroll, signer_create
    from apps.verifications.services import review_create, verification_create

    clerk, integrator = make_user("clerk"), make_user("integrator")
    signers = []
    for k in range(1, SIGNERS + 1):
        signer = signer_create(external_id=f"ACC-{k:04d}", full_name=f"Customer {k}")
        files = [upload(signature_bytes(k, i), f"ref{i}.png") for i in range(3)]
        assert len(references_enroll(signer=signer, files=files, user=integrator).accepted) == 3
        cheque, crop = cheque_with_signature(k, 5)
        genuine = verification_create(signer=signer, image=upload(cheque, "cheque.png"), crop=crop, user=clerk)
        # The tiny untrained model's call is arbitrary; a review that overrules it needs a comment.
        review_create(verification=genuine, reviewer=clerk, final_decision="genuine", comment="matches the card")
        forged = verification_create(signer=signer, image=upload(signature_bytes(100 + k, 1)), user=clerk)
        review_create(verification=forged, reviewer=clerk, final_decision="forgery", comment="another hand")
        verification_create(signer=signer, image=upload(signature_bytes(k, 6)), user=clerk)  # never reviewed
        signers.append(signer)
    return signers


@pytest.mark.django_db
def test_export_writes_reviewed_verifications_as_a_labelled_folders_dataset(bank_data, tmp_path):
    result = export_labelled_data("bank", root=tmp_path)

    samples = read_manifest(result.path)
    assert (result.references, result.reviewed_genuine, result.reviewed_forged) == (12, 4, 4)
    assert len(samples) == result.samples == 20 and result.writers == SIGNERS
    assert sum(s.label == "forged" for s in samples) == 4
    assert len(scan(result.path, "folders")) == 20  # a valid `folders` tree as well
    writers = {s.writer for s in samples}
    assert writers == {f"signer-{s.pk}" for s in bank_data}  # no account numbers in a training set
    with open(result.path / "sources.csv", newline="") as fh:
        sources = {row["path"]: row["source"] for row in csv.DictReader(fh)}
    reviewed = [p for p, src in sources.items() if src.startswith("verification:")]
    assert len(reviewed) == 8  # the unreviewed verifications are left out
    forged_sources = {sources[s.path.as_posix()] for s in samples if s.label == "forged"}
    assert all(src.startswith("verification:") for src in forged_sources)
    # The cheque's signature box is what gets exported, not the whole cheque.
    genuine_reviewed = [p for p in reviewed if "/genuine/" in p]
    with Image.open(result.path / genuine_reviewed[0]) as img:
        assert img.size == Image.open(io.BytesIO(signature_bytes(1, 5))).size


@pytest.mark.django_db
def test_export_can_leave_out_references_and_skips_writers_without_genuine(bank_data, tmp_path):
    result = export_labelled_data("reviewed-only", include_references=False, root=tmp_path)
    samples = read_manifest(result.path)
    assert result.references == 0
    assert {s.label for s in samples} == {"genuine", "forged"}
    assert len(samples) == 8

    result = export_labelled_data("again", include_references=False, include_reviewed=True, root=tmp_path)
    assert result.samples == 8  # a re-export of the same data gives the same dataset


@pytest.mark.django_db
def test_export_command(bank_data, settings, tmp_path, capsys):
    from django.core.management import call_command

    settings.SIGVERIFY_ORGANIZED_DATA = tmp_path
    call_command("export_feedback_data", "--name", "bank-feedback")
    assert "20 images of 4 signers" in capsys.readouterr().out
    assert len(read_manifest(tmp_path / "bank-feedback")) == 20


@pytest.mark.django_db(transaction=True)
def test_training_job_trains_on_the_reviewed_verifications(bank_data, tiny_dataset, active_version):
    job = TrainingJob.objects.create(
        datasets=["tiny"],
        include_references=True,
        include_reviewed=True,
        epochs=2,
        loss="triplet-semihard",
        options=TINY_TRAIN_OPTIONS,
    )

    assert runs.run_training_job(job.pk) == "succeeded"

    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    feedback = job.data_summary["feedback"]
    assert (feedback["references"], feedback["reviewed_genuine"], feedback["reviewed_forged"]) == (12, 4, 4)
    exported = runs.feedback_dataset_name(job.pk)
    assert f"{exported}: 20 images, 4 writers" in job.log_tail  # the trainer read it
    version = job.model_version
    assert any(d.endswith(exported) for d in version.card["data"]["datasets"])
    assert [r["epoch"] for r in job.history] == [1, 2] and job.epoch == 2
    assert not version.is_active
    assert ModelVersion.objects.get(is_active=True) == active_version  # a job never touches the active model
