"""End to end on real CEDAR signatures with the shipped model, through the REST API.

1. bulk-enroll 5 CEDAR writers with 5 references each (the management command);
2. verify their remaining genuine signatures and their forgeries through the API;
3. check the decisions and logs, and that most genuine signatures are not called
   ``forgery`` and most forgeries not ``genuine``.

A freshly initialised model cannot tell writers apart, so this test needs the shipped
weights (trained_model_parameters/). It reads CEDAR in place (never copied); outside CI
it skips when the data or the weights are missing, in CI (``CI`` set) it fails instead.
"""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from testsupport.ci import require

pytestmark = [pytest.mark.shared_data, pytest.mark.slow, pytest.mark.django_db]

WRITERS = 5
REFERENCES = 5


def _datasets_dir() -> Path:
    default = Path(settings.REPO_DIR).parent / "shared" / "datasets"
    return Path(os.environ.get("SIGVERIFY_SHARED_DATASETS", default))


def test_cedar_enroll_verify_and_audit(client_for, settings):
    cedar = _datasets_dir() / "CEDAR"
    require((cedar / "full_org").is_dir() and (cedar / "full_forg").is_dir(), f"CEDAR not found at {cedar}")
    model_dir = Path(settings.SIGVERIFY_MODEL_DIR)
    require(
        (model_dir / "model_card.json").is_file(), f"shipped model not found in {model_dir} (trained_model_parameters/)"
    )

    from apps.modelregistry.services import model_version_register
    from apps.verifications.models import Verification
    from sigverify.datasets import load_dataset

    settings.SIGVERIFY_TORCH_THREADS = 2
    version, _ = model_version_register(model_dir, activate=True)

    call_command(
        "enroll_from_dataset",
        "--data",
        str(cedar),
        "--layout",
        "cedar",
        "--references",
        str(REFERENCES),
        "--writers",
        str(WRITERS),
        "--no-progress",
    )

    _, samples = load_dataset(cedar, "cedar")
    writers = sorted({s.writer for s in samples}, key=int)[:WRITERS]
    client = client_for("clerk")
    outcomes = {"genuine": [], "forged": []}
    scores = {"genuine": [], "forged": []}
    for writer in writers:
        mine = sorted((s for s in samples if s.writer == writer), key=lambda s: (s.label, s.sample))
        genuine = [s for s in mine if s.is_genuine][REFERENCES:]  # the first R are the references
        forged = [s for s in mine if not s.is_genuine]
        for sample in genuine + forged:
            image = SimpleUploadedFile(sample.path.name, sample.path.read_bytes(), content_type="image/png")
            response = client.post(
                "/api/v1/verifications/",
                {"signer": f"cedar-{writer}", "image": image, "cheque_reference": sample.path.name},
                format="multipart",
            )
            assert response.status_code == 201, response.json()
            body = response.json()
            assert body["model_version"] == version.name
            assert len(body["distances"]) == REFERENCES
            outcomes[sample.label].append(body["decision"])
            scores[sample.label].append(body["score"])

    total = len(outcomes["genuine"]) + len(outcomes["forged"])
    assert Verification.objects.filter(model_version=version).count() == total
    logged = Verification.objects.filter(signer__external_id=f"cedar-{writers[0]}", requested_by=client.user)
    assert logged.exists() and all(v.cheque_reference and v.image_sha256 for v in logged)

    genuine_called_forgery = outcomes["genuine"].count("forgery") / len(outcomes["genuine"])
    forged_called_genuine = outcomes["forged"].count("genuine") / len(outcomes["forged"])
    print(
        f"\nCEDAR {WRITERS} writers: {len(outcomes['genuine'])} genuine -> "
        f"{ {d: outcomes['genuine'].count(d) for d in ('genuine', 'refer', 'forgery')} }; "
        f"{len(outcomes['forged'])} forged -> { {d: outcomes['forged'].count(d) for d in ('genuine', 'refer', 'forgery')} }"
    )
    assert genuine_called_forgery < 0.5, outcomes["genuine"]
    assert forged_called_genuine < 0.5, outcomes["forged"]
    # Not satisfied by a model that refers everything: genuine must score above forgeries.
    mean_genuine = sum(scores["genuine"]) / len(scores["genuine"])
    mean_forged = sum(scores["forged"]) / len(scores["forged"])
    assert mean_genuine > mean_forged, (mean_genuine, mean_forged)
    assert outcomes["genuine"].count("genuine") + outcomes["forged"].count("forgery") > 0, "the model decided nothing"
