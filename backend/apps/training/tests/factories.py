"""Small images and datasets drawn at test time (never derived from the shared datasets)."""

from __future__ import annotations

from pathlib import Path

from sigverify.datasets import Sample, write_manifest
from testsupport.synthetic_data import signature_bytes

TINY_TRAIN_OPTIONS = {
    "input_size": [32, 48],
    "embedding_dim": 16,
    "writers_per_batch": 4,
    "genuine_per_writer": 3,
    "forged_per_writer": 1,
    "steps_per_epoch": 2,
    "augment": False,
    "precision": "fp32",
    "patience": 50,
}


def make_dataset(root, name: str, writers: int = 6, genuine: int = 7, forged: int = 2, first_writer: int = 1) -> Path:
    """An organised ``folders`` dataset with its manifest under ``root/name``."""
    dest = Path(root) / name
    samples = []
    for w in range(first_writer, first_writer + writers):
        for label, count in (("genuine", genuine), ("forged", forged)):
            for n in range(1, count + 1):
                rel = Path(f"w{w:03d}") / label / f"{n:03d}.png"
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                (dest / rel).write_bytes(signature_bytes(w, n, forged=label == "forged", size=(150, 90), paper=250))
                samples.append(Sample(rel, f"w{w:03d}", label, n))
    write_manifest(dest, samples)
    return dest


def make_model_dir(path, tag: str = "t1", embedding_dim: int = 16, seed: int = 0) -> Path:
    """A tiny untrained model directory (weights + card), like a shipped one."""
    import torch

    from sigverify.model import SignatureEmbedder
    from sigverify.preprocess import PREPROCESS_VERSION
    from sigverify.weights import save_model

    torch.manual_seed(seed)
    save_model(
        SignatureEmbedder(embedding_dim=embedding_dim),
        path,
        {
            "name": "test",
            "version": tag,
            "input_size": [32, 48],
            "preprocess_version": PREPROCESS_VERSION,
            "thresholds": {"eer": 0.5, "accept": 0.6, "reject": 0.4},
            "scoring": {},
        },
    )
    return Path(path)
