"""Serving through ONNX Runtime (SIGVERIFY_INFERENCE): the path chosen per version, shown by /health,
and used by promotion to re-embed the references it will serve."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.storage import default_storage

from apps.core.images import preprocess_bytes
from apps.modelregistry import promotion as runs
from apps.modelregistry import services, serving
from apps.signers.models import ReferenceEmbedding, ReferenceSignature
from testsupport.tiny_model import write_tiny_onnx_model

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def onnx_model_dir(tmp_path_factory):
    return write_tiny_onnx_model(tmp_path_factory.mktemp("tiny-onnx"), name="tiny-onnx", seed=1, int8=True)


@pytest.fixture
def inference(settings, monkeypatch):
    from sigverify import runtime

    # auto reads the CPU's flags: served as on a CPU without VNNI unless a test says otherwise
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"avx2", "fma"})
    # PyTorch's own auto picks bf16 on CPUs that have it: fp32 here, so the paths are the same everywhere
    settings.SIGVERIFY_INFERENCE_PRECISION = "fp32"
    serving.clear_cache()

    def choose(mode):
        settings.SIGVERIFY_INFERENCE = mode
        serving.clear_cache()

    yield choose
    serving.clear_cache()


def test_health_shows_the_path_in_use_per_loaded_version(inference, anon_client, onnx_model_dir, active_version):
    inference("auto")
    onnx_version, _ = services.model_version_register(onnx_model_dir, activate=True)
    model = anon_client.get("/api/v1/health/").json()["model"]
    assert model["state"] == "not_loaded" and model["inference"] == "auto"  # configured, nothing loaded yet
    serving.get_verifier(active_version)  # the tiny model without ONNX files
    serving.get_verifier(onnx_version)
    model = anon_client.get("/api/v1/health/").json()["model"]
    assert model["state"] == "loaded" and model["active_version_id"] == onnx_version.pk
    assert model["inference"] == "onnx-fp32" and model["inference_precision"] == "fp32"
    paths = {v["version_id"]: v["inference"] for v in model["loaded_versions"]}
    assert paths == {onnx_version.pk: "onnx-fp32", active_version.pk: "torch-fp32"}


def test_auto_serves_the_checked_int8_file_on_a_cpu_with_vnni_and_health_says_so(
    inference, anon_client, onnx_model_dir, monkeypatch
):
    from sigverify import runtime

    inference("auto")
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"avx2", "fma", "avx512f", "avx512_vnni"})
    version, _ = services.model_version_register(onnx_model_dir, activate=True)
    assert serving.get_verifier(version).inference_path == "onnx-int8"
    model = anon_client.get("/api/v1/health/").json()["model"]
    assert model["inference"] == "onnx-int8" and model["inference_precision"] == "int8"
    loaded = {v["version_id"]: v for v in model["loaded_versions"]}
    assert loaded[version.pk]["inference"] == "onnx-int8"
    assert "avx512_vnni" in loaded[version.pk]["inference_reason"]


def test_torch_mode_serves_a_version_with_onnx_files_through_pytorch(inference, anon_client, onnx_model_dir):
    inference("torch")
    version, _ = services.model_version_register(onnx_model_dir, activate=True)
    assert serving.get_verifier(version).inference_path == "torch-fp32"
    assert anon_client.get("/api/v1/health/").json()["model"]["inference"] == "torch-fp32"


def test_a_damaged_onnx_file_is_a_load_error_shown_by_health(inference, anon_client, onnx_model_dir, tmp_path):
    import shutil

    from sigverify.errors import ModelLoadError

    inference("auto")
    copy = tmp_path / "damaged"
    shutil.copytree(onnx_model_dir, copy)
    (copy / "model.onnx").write_bytes(b"not the exported file")
    version, _ = services.model_version_register(copy, activate=True)
    with pytest.raises(ModelLoadError, match="sha256 mismatch for ONNX file"):
        serving.get_verifier(version)
    model = anon_client.get("/api/v1/health/").json()["model"]
    assert model["state"] == "error" and "sha256 mismatch for ONNX file" in model["error"]
    (copy / "model.onnx").write_bytes((onnx_model_dir / "model.onnx").read_bytes())  # repaired: tried again
    assert serving.get_verifier(version).inference_path == "onnx-fp32"


def test_promotion_re_embeds_references_with_the_path_that_will_serve_them(
    inference, enrolled_signer, active_version, onnx_model_dir
):
    from sigverify.inference import Verifier

    inference("onnx-int8")
    candidate, _ = services.model_version_register(onnx_model_dir)
    promotion = services.promotion_start(version=candidate, requested_by=None)
    runs.run_promotion(promotion.pk)
    promotion.refresh_from_db()
    assert promotion.status == "succeeded", promotion.error
    serving_path = serving.get_verifier(candidate)
    assert serving_path.inference_path == "onnx-int8"

    references = list(ReferenceSignature.objects.order_by("pk"))
    arrays = []
    for reference in references:
        with default_storage.open(reference.image.name, "rb") as fh:
            arrays.append(preprocess_bytes(fh.read(), candidate.input_size)[0])
    stored = np.stack(
        [ReferenceEmbedding.objects.get(reference=r, model_version=candidate).as_array() for r in references]
    )
    int8 = Verifier.from_dir(onnx_model_dir, inference="onnx-int8").embed_arrays(arrays)
    torch = Verifier.from_dir(onnx_model_dir, inference="torch").embed_arrays(arrays)
    assert np.abs(stored - int8).max() < 1e-6  # made by the int8 file, as the queries will be
    assert np.abs(stored - torch).max() > 1e-5  # not by PyTorch
