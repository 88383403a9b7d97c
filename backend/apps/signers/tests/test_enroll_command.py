import pytest
from django.core.management import CommandError, call_command

from apps.signers.models import ReferenceEmbedding, ReferenceSignature, Signer
from testsupport.synthetic_data import signature_bytes
from testsupport.uploads import blank_png

pytestmark = pytest.mark.django_db


@pytest.fixture
def folders_dataset(tmp_path):
    """writer/genuine/*.png and writer/forged/*.png, drawn at test time."""
    for writer in (1, 2, 3):
        for sample in range(4):
            path = tmp_path / f"w{writer}" / "genuine" / f"sig_{sample + 1}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(signature_bytes(writer, sample))
        forged = tmp_path / f"w{writer}" / "forged" / "f_1.png"
        forged.parent.mkdir(parents=True, exist_ok=True)
        forged.write_bytes(signature_bytes(writer + 100, 0))
    (tmp_path / "w3" / "genuine" / "sig_2.png").write_bytes(blank_png())  # one unusable card
    return tmp_path


def test_enroll_from_dataset_is_idempotent(folders_dataset, active_version, capsys):
    call_command(
        "enroll_from_dataset",
        "--data",
        str(folders_dataset),
        "--layout",
        "folders",
        "--references",
        "3",
        "--no-progress",
    )
    out = capsys.readouterr().out
    assert "3 new signers" in out and "8 references enrolled" in out and "1 no_ink" in out
    assert set(Signer.objects.values_list("external_id", flat=True)) == {"folders-w1", "folders-w2", "folders-w3"}
    first = Signer.objects.get(external_id="folders-w1")
    assert sorted(first.references.values_list("original_name", flat=True)) == ["sig_1.png", "sig_2.png", "sig_3.png"]
    assert ReferenceEmbedding.objects.filter(model_version=active_version).count() == 8

    call_command(
        "enroll_from_dataset",
        "--data",
        str(folders_dataset),
        "--layout",
        "folders",
        "--references",
        "3",
        "--no-progress",
    )
    again = capsys.readouterr().out
    assert "0 new signers" in again and "0 references enrolled" in again and "8 already enrolled" in again
    assert ReferenceSignature.objects.count() == 8


def test_enroll_from_dataset_limits_writers_and_prefix(folders_dataset, active_version):
    call_command(
        "enroll_from_dataset",
        "--data",
        str(folders_dataset),
        "--references",
        "2",
        "--writers",
        "1",
        "--prefix",
        "bank-",
        "--no-progress",
    )
    assert list(Signer.objects.values_list("external_id", flat=True)) == ["bank-w1"]
    assert ReferenceSignature.objects.count() == 2


def test_enroll_from_dataset_reports_a_bad_layout(tmp_path, active_version):
    with pytest.raises(CommandError, match="cedar layout"):
        call_command("enroll_from_dataset", "--data", str(tmp_path), "--layout", "cedar", "--no-progress")
