"""Shipped weights: safetensors plus a model card, written atomically and checked on load.

A model directory holds ``model.safetensors`` and ``model_card.json`` (and a human
``MODEL_CARD.md``). The card records the sha256 of the weights; loading refuses a file
whose hash differs.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .card import CARD_FILE, WEIGHTS_FILE, ModelCard
from .errors import ModelLoadError

# torch is imported inside the functions: servers import this module for its constants
# and the hash check, and must not pull in torch before they fork.

__all__ = ["CARD_FILE", "WEIGHTS_FILE", "load_model", "save_model", "sha256_file"]


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_model(model, directory, card: dict) -> ModelCard:
    """Write weights (``.part`` then rename), then the card with what the weights decide (file,
    sha256, embedding size). ``card`` holds the other fields; an invalid card is refused
    (``CardError``) before anything is renamed into place. Returns the card written."""
    import torch
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / (WEIGHTS_FILE + ".part")
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(tmp), metadata={"format": "pt", "embedding_dim": str(model.embedding_dim)})
    written = ModelCard.parse(
        {**card, "weights_file": WEIGHTS_FILE, "sha256": sha256_file(tmp), "embedding_dim": model.embedding_dim},
        source="the card to save",
    )
    os.replace(tmp, directory / WEIGHTS_FILE)
    written.write(directory)
    return written


def load_model(directory, device: str = "cpu", verify: bool = True):
    """(SignatureEmbedder in eval mode, ``ModelCard``). Raises ``ModelLoadError`` on a missing or
    altered file and ``CardError`` (one) on a card without what serving needs."""
    from safetensors.torch import load_file

    from .model import SignatureEmbedder

    directory = Path(directory)
    card = ModelCard.read(directory)
    weights = directory / card.weights_file
    if not weights.exists():
        raise ModelLoadError(f"weights file missing: {weights}")
    if verify:
        actual = sha256_file(weights)
        if actual != card.sha256:
            raise ModelLoadError(f"sha256 mismatch for {weights}: card says {card.sha256}, file is {actual}")
    model = SignatureEmbedder(card.embedding_dim)
    try:
        state = load_file(str(weights), device="cpu")
        model.load_state_dict(state)
    except Exception as exc:  # safetensors raises several types for a damaged file
        raise ModelLoadError(f"cannot load weights {weights}: {exc}") from exc
    return model.to(device).eval(), card
