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
