"""The fast inference path (SIGVERIFY_INFERENCE_PRECISION=bf16): served, re-embedded with, shown.

Speed is measured in benchmarks/embed_speed.py; here only the wiring and the agreement of the
embeddings are checked.
"""

from __future__ import annotations

import numpy as np
import pytest

from apps.modelregistry import serving
from testsupport.synthetic_data import signature_bytes
from testsupport.uploads import upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def bf16_serving(settings):
    from sigverify.inference import bf16_supported

    serving.clear_cache()
    settings.SIGVERIFY_INFERENCE_PRECISION = "bf16"
    yield "bf16" if bf16_supported() else "fp32"  # the Verifier falls back where the CPU has no bf16
    serving.clear_cache()


def test_health_shows_the_configured_path_until_the_model_is_loaded(bf16_serving, anon_client, active_version):
    model = anon_client.get("/api/v1/health/").json()["model"]
    assert model["state"] == "not_loaded" and model["inference_precision"] == "bf16"


def test_verify_and_re_embedding_use_the_configured_path_and_health_shows_it(
    bf16_serving, client_for, anon_client, enrolled_signer, active_version
):
    expected = bf16_serving
    response = client_for("clerk").post(
        "/api/v1/verifications/",
        {"signer": enrolled_signer.pk, "image": upload(signature_bytes(1, 8))},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    model = anon_client.get("/api/v1/health/").json()["model"]
    assert model["state"] == "loaded" and model["inference_precision"] == expected  # what is really running
    # Promotion's re-embedding and bulk enrollment load their model through the same cache.
    assert serving.get_verifier(active_version).precision == expected


def test_auto_precision_picks_bf16_exactly_where_the_cpu_has_it(tiny_model_dir, monkeypatch):
    from sigverify import inference
    from sigverify.inference import Verifier

    monkeypatch.setattr(inference, "bf16_supported", lambda: False)
    assert Verifier.from_dir(tiny_model_dir, precision="auto").precision == "fp32"
    monkeypatch.setattr(inference, "bf16_supported", lambda: True)
    assert Verifier.from_dir(tiny_model_dir, precision="auto").precision == "bf16"
    with pytest.raises(ValueError, match="precision must be one of"):
        Verifier.from_dir(tiny_model_dir, precision="int4")


def test_bf16_embeddings_agree_with_fp32(tiny_model_dir):
    from sigverify.inference import Verifier, bf16_supported

    if not bf16_supported():
        pytest.skip("this CPU has no bf16 support; the server would use fp32")
    fp32 = Verifier.from_dir(tiny_model_dir, precision="fp32")
    bf16 = Verifier.from_dir(tiny_model_dir, precision="bf16")
    arrays = [fp32.preprocess(signature_bytes(w, s))[0] for w in (1, 2, 3) for s in (0, 1)]
    a, b = fp32.embed_arrays(arrays), bf16.embed_arrays(arrays)
    cosine = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cosine.min() > 0.99
