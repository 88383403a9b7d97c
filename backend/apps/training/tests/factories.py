"""Small images and datasets drawn at test time (never derived from the shared datasets)."""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, ImageDraw
from sigverify.datasets import Sample, write_manifest

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


def signature_png(writer: int, sample: int, forged: bool = False, size=(150, 90)) -> bytes:
    """A writer-specific scribble: the same control points for a writer, jittered per sample;
    a forgery follows them more loosely."""
    width, height = size
    base = random.Random(writer * 7919)
    points = [(base.uniform(10, width - 10), base.uniform(10, height - 10)) for _ in range(7)]
    jitter = random.Random(writer * 104729 + sample * 31 + (1 if forged else 0))
    spread = 9.0 if forged else 2.5
    moved = [(x + jitter.gauss(0, spread), y + jitter.gauss(0, spread)) for x, y in points]
    image = Image.new("L", size, 250)
    ImageDraw.Draw(image).line(moved, fill=20, width=4 if forged else 3, joint="curve")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def make_dataset(root, name: str, writers: int = 6, genuine: int = 7, forged: int = 2, first_writer: int = 1) -> Path:
    """An organised ``folders`` dataset with its manifest under ``root/name``."""
    dest = Path(root) / name
    samples = []
    for w in range(first_writer, first_writer + writers):
        for label, count in (("genuine", genuine), ("forged", forged)):
            for n in range(1, count + 1):
                rel = Path(f"w{w:03d}") / label / f"{n:03d}.png"
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                (dest / rel).write_bytes(signature_png(w, n, forged=label == "forged"))
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
