import shutil
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction

from apps.modelregistry import serving
from apps.modelregistry.models import ModelVersion
from apps.modelregistry.promotion import activate_version
from apps.modelregistry.services import model_version_register
from sigverify.errors import ModelLoadError
from sigverify.inference import Verifier
from testsupport.synthetic_data import signature_bytes
from testsupport.tiny_model import write_tiny_model
from testsupport.uploads import upload

pytestmark = pytest.mark.django_db


def test_register_is_idempotent_by_sha256(tiny_model_dir, active_version):
    version, created = model_version_register(tiny_model_dir)
    assert not created
    assert version.pk == active_version.pk
    assert ModelVersion.objects.filter(sha256=active_version.sha256).count() == 1


def test_register_records_card_thresholds_and_metrics(tmp_path, active_version):
    directory = write_tiny_model(tmp_path / "m2", name="second", seed=1)
    version, created = model_version_register(directory)
    assert created and not version.is_active
    assert version.thresholds == {"eer": 0.5, "accept": 0.6, "reject": 0.4}
    assert version.metrics == {"validation": {"R5": {"references": 5, "skilled": {"eer": 0.5}}}}
    assert version.input_size == (32, 48)
    assert version.name.startswith("second-t1-")


def test_register_refuses_a_damaged_model(tmp_path):
    directory = write_tiny_model(tmp_path / "m3", seed=2)
    weights = directory / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="sha256 mismatch"):
        model_version_register(directory)


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"thresholds": {"accept": 0.6}}, "thresholds.eer: Field required"),
        ({"metrics": {"test": {"skilled": {"eer": 0.1}}}}, "metrics.test: Extra inputs are not permitted"),
        ({"metrics": {"held_out": {"R5": {}}}}, "metrics.held_out: Value error, key 'R5' should look like"),
        ({"input_size": [32]}, "input_size: List should have at least 2 items"),
    ],
)
def test_register_refuses_a_card_that_is_not_a_model_card(tmp_path, change, problem):
    import json

    directory = write_tiny_model(tmp_path / "bad-card", seed=5)
    card_path = directory / "model_card.json"
    card_path.write_text(json.dumps({**json.loads(card_path.read_text()), **change}))
    with pytest.raises(ModelLoadError, match="is not valid") as caught:
        model_version_register(directory)
    assert problem in str(caught.value)
    assert not ModelVersion.objects.filter(weights_path=str(directory.resolve())).exists()


def test_api_serves_the_card_as_a_model_card(client_for, active_version):
    from sigverify.card import ModelCard

    body = client_for("ml_staff").get(f"/api/v1/model-versions/{active_version.pk}/").json()
    card = ModelCard.model_validate(body["card"])
    assert card.sha256 == active_version.sha256 and card.thresholds.accept == 0.6
    assert [(f.split, f.references, f.evaluation.skilled.eer) for f in card.metrics.validation_figures()] == [
        ("validation", 5, 0.5)
    ]
    assert card.metrics.test_figures() == []  # a model never published has no held-out figures


def test_only_one_version_is_active(tmp_path, active_version):
    second, _ = model_version_register(write_tiny_model(tmp_path / "m4", seed=3))
    activate_version(second)
    assert list(ModelVersion.objects.filter(is_active=True)) == [second]
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=active_version.pk).update(is_active=True)


def test_model_versions_api(client_for, active_version):
    client = client_for("ml_staff")
    body = client.get("/api/v1/model-versions/").json()
    assert body["count"] >= 1
    entry = next(v for v in body["results"] if v["id"] == active_version.pk)
    assert entry["is_active"] is True
    assert entry["thresholds"]["accept"] == 0.6
    assert entry["input_size"] == [32, 48]
    assert client.get(f"/api/v1/model-versions/{active_version.pk}/").json()["sha256"] == active_version.sha256
    assert client.get("/api/v1/model-versions/", {"is_active": "true"}).json()["count"] == 1
    assert client.get("/api/v1/model-versions/999999/").status_code == 404


def test_verifier_is_loaded_once_and_shared(active_version):
    first = serving.get_verifier(active_version)
    again = serving.get_verifier(ModelVersion.objects.get(pk=active_version.pk))
    assert first is again
    assert first.sha256 == active_version.sha256


def test_verifier_is_created_lazily_and_thread_safely(active_version):
    import threading

    serving.clear_cache()
    assert serving.load_state(active_version)["state"] == "not_loaded"
    results = []
    threads = [threading.Thread(target=lambda: results.append(serving.get_verifier(active_version))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(v) for v in results}) == 1
    assert serving.load_state(active_version)["state"] == "loaded"


def test_a_newly_active_version_is_used_without_restart(tmp_path, client_for, enrolled_signer, active_version):
    from apps.signers.services import references_embed_missing

    client = client_for("clerk")
    first = client.post(
        "/api/v1/verifications/",
        {"signer": enrolled_signer.pk, "image": upload(signature_bytes(1, 7))},
        format="multipart",
    )
    assert first.json()["model_version"] == active_version.name
    second, _ = model_version_register(write_tiny_model(tmp_path / "m5", name="next", seed=4))
    references_embed_missing(second)
    activate_version(second)
    again = client.post(
        "/api/v1/verifications/",
        {"signer": enrolled_signer.pk, "image": upload(signature_bytes(1, 8))},
        format="multipart",
    )
    assert again.status_code == 201
    assert again.json()["model_version"] == second.name
    assert again.json()["model_version_id"] == second.pk


def test_a_corrupted_model_file_gives_503_on_verify_and_shows_in_health(
    tmp_path, client_for, anon_client, enrolled_signer
):
    from apps.signers.services import references_embed_missing

    directory = shutil.copytree(write_tiny_model(tmp_path / "m6", name="fragile", seed=5), tmp_path / "fragile")
    version, _ = model_version_register(directory)
    references_embed_missing(version)
    activate_version(version)
    serving.clear_cache()  # a fresh process: nothing loaded yet
    weights = directory / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))

    response = client_for("clerk").post(
        "/api/v1/verifications/",
        {"signer": enrolled_signer.pk, "image": upload(signature_bytes(1, 6))},
        format="multipart",
    )
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "model_unavailable"
    assert "sha256 mismatch" in error["message"]
    health = anon_client.get("/api/v1/health/").json()
    assert health["status"] == "degraded"
    assert health["model"]["state"] == "error"
    assert "sha256 mismatch" in health["model"]["error"]
    from apps.verifications.models import Verification

    assert not Verification.objects.exists()


def test_no_active_model_gives_503(client_for, enrolled_signer):
    ModelVersion.objects.update(is_active=False)
    response = client_for("clerk").post(
        "/api/v1/verifications/",
        {"signer": enrolled_signer.pk, "image": upload(signature_bytes(1, 6))},
        format="multipart",
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "no_active_model"


def test_register_shipped_model_command(tmp_path, settings, capsys):
    from django.core.management import call_command

    settings.SIGVERIFY_MODELS_ROOT = tmp_path / "models"
    settings.SIGVERIFY_MODEL_DIR = tmp_path / "empty"
    call_command("register_shipped_model")
    assert "No shipped model" in capsys.readouterr().out

    directory = write_tiny_model(tmp_path / "shipped", name="shipped", seed=6)
    settings.SIGVERIFY_MODEL_DIR = directory
    call_command("register_shipped_model")
    call_command("register_shipped_model")
    out = capsys.readouterr().out
    assert "registered (not active" in out and "already registered" in out
    assert ModelVersion.objects.filter(name__startswith="shipped").count() == 1
    call_command("register_shipped_model", "--activate")
    version = ModelVersion.objects.get(is_active=True)
    assert version.name.startswith("shipped")
    # The version serves from a copy of its own: new weights shipped into the folder cannot break it.
    assert Path(version.weights_path).parent == tmp_path / "models"
    write_tiny_model(directory, name="shipped-next", seed=7)
    Verifier.from_dir(version.weights_path)


def test_an_upgrade_that_replaced_the_active_weights_promotes_the_new_model(
    tmp_path, settings, capsys, django_capture_on_commit_callbacks
):
    """An installation registered before versions kept copies serves from the shipped folder itself;
    the next release overwrites those weights, so the new version is promoted (references re-embedded)."""
    from django.core.management import call_command

    from apps.modelregistry.models import Promotion

    settings.SIGVERIFY_MODELS_ROOT = tmp_path / "models"
    shipped = write_tiny_model(tmp_path / "shipped", name="old", seed=8)
    old, _ = model_version_register(shipped, activate=True)
    ModelVersion.objects.exclude(pk=old.pk).update(is_active=False)
    write_tiny_model(shipped, name="new", seed=9)  # the upgrade
    settings.SIGVERIFY_MODEL_DIR = shipped
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        call_command("register_shipped_model")
    new = ModelVersion.objects.exclude(pk=old.pk).get(name__startswith="new")
    assert "re-embeds every reference" in capsys.readouterr().out
    assert Promotion.objects.get(model_version=new).status == "queued" and len(callbacks) == 1
    assert ModelVersion.objects.get(is_active=True) == old  # until the promotion has re-embedded


def test_no_promotion_while_the_active_version_still_has_its_weights(tmp_path, settings, active_version):
    from django.core.management import call_command

    from apps.modelregistry.models import Promotion

    settings.SIGVERIFY_MODELS_ROOT = tmp_path / "models"
    settings.SIGVERIFY_MODEL_DIR = write_tiny_model(tmp_path / "shipped", name="candidate", seed=10)
    call_command("register_shipped_model")
    assert not Promotion.objects.exists()
    assert ModelVersion.objects.get(is_active=True) == active_version


def test_the_active_version_reads_its_row_each_time_and_decodes_a_card_once(active_version):
    from apps.modelregistry import selectors

    selectors._decoded.cache_clear()
    first, second = selectors.get_active_version(), selectors.get_active_version()
    assert first.card == active_version.card and first.metrics == active_version.metrics
    assert first.input_size == active_version.input_size and second.model_card is first.model_card
    assert selectors._decoded.cache_info().misses == 1  # the card's text decoded and parsed once
    assert not first.get_deferred_fields()  # nothing left to read on access

    # a changed row (a policy change, another card) is what the next read returns
    card = {**active_version.card, "input_size": [64, 128]}
    ModelVersion.objects.filter(pk=active_version.pk).update(card=card, thresholds={"accept": 0.9})
    changed = selectors.get_active_version()
    assert changed.thresholds == {"accept": 0.9} and changed.card == card and changed.input_size == (64, 128)
