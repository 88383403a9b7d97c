"""Shipped weights: safetensors plus a model card, written atomically and checked on load.

A model directory holds ``model.safetensors`` and ``model_card.json`` (and a human
``MODEL_CARD.md``). The card records the sha256 of the weights; loading refuses a file
whose hash differs.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .errors import ModelLoadError

# torch is imported inside the functions: servers import this module for its constants
# and the hash check, and must not pull in torch before they fork.

WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "model_card.json"


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_model(model, directory, card: dict) -> dict:
    """Write weights (``.part`` then rename), then the card with their sha256. Returns the card."""
    import torch
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / WEIGHTS_FILE
    tmp = directory / (WEIGHTS_FILE + ".part")
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(tmp), metadata={"format": "pt", "embedding_dim": str(model.embedding_dim)})
    card = dict(card)
    card["weights_file"] = WEIGHTS_FILE
    card["sha256"] = sha256_file(tmp)
    card["embedding_dim"] = model.embedding_dim
    os.replace(tmp, weights)
    _atomic_write_text(directory / CARD_FILE, json.dumps(card, indent=2, sort_keys=True) + "\n")
    return card


def read_card(directory) -> dict:
    path = Path(directory) / CARD_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ModelLoadError(f"no model card at {path}") from exc
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"model card {path} is not valid JSON: {exc}") from exc


def load_model(directory, device: str = "cpu", verify: bool = True):
    """(SignatureEmbedder in eval mode, card). Raises ``ModelLoadError`` on a missing or altered file."""
    from safetensors.torch import load_file

    from .model import DEFAULT_EMBEDDING_DIM, SignatureEmbedder

    directory = Path(directory)
    card = read_card(directory)
    weights = directory / card.get("weights_file", WEIGHTS_FILE)
    if not weights.exists():
        raise ModelLoadError(f"weights file missing: {weights}")
    if verify:
        actual = sha256_file(weights)
        if actual != card.get("sha256"):
            raise ModelLoadError(f"sha256 mismatch for {weights}: card says {card.get('sha256')}, file is {actual}")
    model = SignatureEmbedder(int(card.get("embedding_dim", DEFAULT_EMBEDDING_DIM)))
    try:
        state = load_file(str(weights), device="cpu")
        model.load_state_dict(state)
    except Exception as exc:  # safetensors raises several types for a damaged file
        raise ModelLoadError(f"cannot load weights {weights}: {exc}") from exc
    return model.to(device).eval(), card
