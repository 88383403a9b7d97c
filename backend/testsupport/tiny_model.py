"""The tiny-model fixture: a model directory with random weights (input 32x48, 16-d embedding) and a
valid card, as ``sigverify train`` writes one, for fast tests and the servers tests start."""

from __future__ import annotations

from pathlib import Path

TINY_CARD = {
    "name": "tiny-test",
    "version": "t1",
    "input_size": [32, 48],
    "thresholds": {"eer": 0.5, "accept": 0.6, "reject": 0.4},
    "metrics": {"validation": {"R5": {"references": 5, "skilled": {"eer": 0.5}}}},
    "scoring": {},
}


def write_tiny_model(directory, name: str = "tiny-test", seed: int = 0) -> Path:
    """A model dir with random weights (input 32x48, 16-d embedding) for fast tests and smoke runs."""
    import torch

    from sigverify.model import SignatureEmbedder
    from sigverify.preprocess import PREPROCESS_VERSION
    from sigverify.weights import save_model

    torch.manual_seed(seed)
    card = {**TINY_CARD, "name": name, "preprocess_version": PREPROCESS_VERSION}
    save_model(SignatureEmbedder(embedding_dim=16), directory, card)
    return Path(directory)


def write_tiny_onnx_model(directory, name: str = "tiny-onnx", seed: int = 0, int8: bool = False) -> Path:
    """The tiny model with its ONNX fp32 file (``sigverify export-onnx``, checked on generated signatures);
    with ``int8`` also an int8 file calibrated on generated signatures and marked usable without the
    dataset check (a random tiny model has no EER to keep): for tests of the serving wiring only."""
    from sigverify.card import ModelCard, OnnxCheck
    from sigverify.onnx_export import ONNX_FILE, ONNX_INT8_FILE, _place, export_onnx, quantize_int8
    from sigverify.preprocess import preprocess
    from testsupport.synthetic_data import signature_bytes

    directory = write_tiny_model(directory, name=name, seed=seed)
    card = export_onnx(directory, log=lambda *_: None)
    if int8:
        size = tuple(TINY_CARD["input_size"])
        arrays = [preprocess(signature_bytes(w, s), size=size) for w in range(1, 5) for s in range(4)]
        part = directory / (ONNX_INT8_FILE + ".part")
        quantization = quantize_int8(directory / ONNX_FILE, part, arrays, method="minmax", exclude=())
        entry = _place(
            part, directory / ONNX_INT8_FILE, card.sha256, card.onnx.fp32.opset, usable=True, quantization=quantization
        )
        entry.check = OnnxCheck(passed=True)  # forced: see the docstring
        card.onnx.int8 = entry
        ModelCard.parse(card.to_dict()).write(directory)
    return directory
