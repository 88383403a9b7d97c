"""Embed a dataset (or one split's writers) with a model, and store or load those embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import evaluate as ev
from .cache import ImageCache
from .captures import CAPTURES, swap_background
from .datasets import load_dataset
from .errors import DatasetError, ImageRejected
from .inference import Verifier
from .pairs import read_splits, writer_key
from .preprocess import load_image, preprocess_image


def _select(samples, name: str, split_file, split: str):
    if not split_file:
        return samples
    splits = read_splits(split_file)
    chosen = [s for s in samples if splits.get(writer_key(name, s.writer)) == split]
    if not chosen:
        raise DatasetError(f"no writer of {name} is in split {split!r} of {split_file}")
    return chosen


def embed_dataset(verifier: Verifier, samples, root, swap: bool = False, capture: str | None = None):
    """(embeddings, kept samples). Rejected images are left out with a warning.

    ``swap`` repaints the paper (genuine white, forgeries grey); ``capture`` names one of ``CAPTURES``.
    """
    if capture is not None and capture not in CAPTURES:
        raise ValueError(f"unknown capture {capture!r}; choose one of {', '.join(CAPTURES)}")
    if swap or capture:
        arrays, kept = [], []
        for s in tqdm(samples, desc=f"preprocess ({'swapped paper' if swap else capture})", unit="img"):
            try:
                image = load_image(s.path)
                image = swap_background(image, s.is_genuine) if swap else image
                image = CAPTURES[capture](image) if capture else image
                arrays.append(preprocess_image(image, size=verifier.input_size)[0])
                kept.append(s)
            except ImageRejected as exc:
                print(f"skipped {s.path}: {exc.message}")
    else:
        cache = ImageCache.build(samples, root, verifier.input_size)
        kept = [s for s, ok in zip(samples, cache.valid, strict=True) if ok]
        arrays = [cache.arrays[i] for i, ok in enumerate(cache.valid) if ok]
    embeddings = []
    step = 256
    for start in tqdm(range(0, len(arrays), step), desc="embed", unit="batch"):
        embeddings.append(verifier.embed_arrays(arrays[start : start + step]))
    return np.concatenate(embeddings), kept


def embed_samples(
    verifier: Verifier, data, layout="folders", split_file=None, split="test", swap_background=False, capture=None
):
    """(embeddings, kept samples) of the dataset, or of its ``split`` writers."""
    root, samples = load_dataset(data, layout)
    samples = _select(samples, Path(data).resolve().name.lower(), split_file, split)
    return embed_dataset(verifier, samples, root, swap=swap_background, capture=capture)


def embed_split(
    verifier: Verifier, data, layout="folders", split_file=None, split="test", swap_background=False, capture=None
):
    """(embeddings, writer groups) of the dataset, or of its ``split`` writers."""
    embeddings, kept = embed_samples(verifier, data, layout, split_file, split, swap_background, capture)
    groups = ev.group_by_writer([s.writer for s in kept], [s.label for s in kept], [s.sample for s in kept])
    return embeddings, groups


def save_embedded(path, embeddings: np.ndarray, kept, **extra) -> None:
    """Store ``embed_samples``' output (embeddings and who each is) as ``.npz`` for ``load_embedded``."""
    np.savez(
        path,
        embeddings=embeddings,
        writers=np.array([s.writer for s in kept]),
        labels=np.array([s.label for s in kept]),
        samples=np.array([s.sample for s in kept]),
        **extra,
    )


def load_embedded(path) -> tuple[np.ndarray, dict]:
    """(embeddings, writer groups) from a ``save_embedded`` file, as ``embed_split`` returns them."""
    with np.load(path) as stored:
        groups = ev.group_by_writer(stored["writers"].tolist(), stored["labels"].tolist(), stored["samples"].tolist())
        return stored["embeddings"].astype(np.float32), groups
