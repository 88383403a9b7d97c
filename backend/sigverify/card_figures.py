"""The held-out figures a published card carries, measured with a model on its writer splits: the
report of one protocol as the card keeps it, a model trained without one dataset measured on it,
and the training writers' embeddings a signer classifier is fitted against."""

from __future__ import annotations

from itertools import groupby, islice
from pathlib import Path

import numpy as np

from . import evaluate as ev
from .card import ModelCard
from .datasets import load_dataset
from .embedding import embed_dataset, embed_split
from .errors import DatasetError
from .inference import Verifier
from .pairs import read_splits, writer_key
from .report import FIGURE_KEYS, evaluation_report
from .writer_dependent import BACKGROUND_PER_WRITER

# The R the card's tables show; the scores file and the thresholds cover every R of REFERENCE_BUCKETS.
REFERENCE_COUNTS = (1, 2, 3, 5, 10)


def dataset_name(data) -> str:
    """A dataset's key in the card and the split file: its folder's name, lower case."""
    return Path(data).resolve().name.lower()


def compact(report: dict) -> dict:
    return {k: report[k] for k in FIGURE_KEYS}


def training_background(verifier: Verifier, datasets, split_file) -> tuple:
    """(embeddings, writer keys): the first ``BACKGROUND_PER_WRITER`` genuine signatures of every
    training writer of ``datasets``, by sample number."""
    splits = read_splits(split_file)
    parts, writers = [], []
    for data in datasets:
        name = dataset_name(data)
        root, samples = load_dataset(data)
        chosen = sorted(
            (s for s in samples if s.is_genuine and splits.get(writer_key(name, s.writer)) == "train"),
            key=lambda s: (s.writer, s.sample),
        )
        kept = [s for _, g in groupby(chosen, key=lambda s: s.writer) for s in islice(g, BACKGROUND_PER_WRITER)]
        if not kept:
            continue
        embeddings, embedded = embed_dataset(verifier, kept, root)
        parts.append(embeddings)
        writers += sorted({f"{name}/{s.writer}" for s in embedded})
    if not parts:
        raise DatasetError(f"no training writer in {split_file}: the signer classifier has no background")
    return np.concatenate(parts), writers


def pooled(by_dataset: dict) -> tuple:
    """Every dataset's (embeddings, groups) as one, writers keyed ``dataset/writer``."""
    parts, groups, offset = [], {}, 0
    for name, (embeddings, g) in sorted(by_dataset.items()):
        for writer, labels in g.items():
            groups[f"{name}/{writer}"] = {k: [i + offset for i in idx] for k, idx in labels.items()}
        parts.append(embeddings)
        offset += len(embeddings)
    return np.concatenate(parts), groups


def leave_one_out(model_dir, data, split_file, split, log) -> dict:
    """The left-out dataset's test writers under a model trained without it (its own calibration)."""
    other = ModelCard.read(model_dir)
    name = dataset_name(data)
    trained_on = sorted({Path(d).name.lower() for d in other.data.datasets})
    if name in trained_on:
        raise ValueError(f"{model_dir} was trained on {name}: it cannot measure leaving it out")
    verifier = Verifier.from_dir(model_dir, precision="fp32")
    embeddings, groups = embed_split(verifier, data, "folders", split_file, split)
    held_out = {}
    for r in REFERENCE_COUNTS:
        ps = ev.protocol_scores(embeddings, groups, r, verifier.scorer)
        if not ps.genuine:
            continue  # no writer has a query left at this R
        held_out[f"R{r}"] = compact(evaluation_report(verifier, ps, data, "folders", split_file, split))
        log(f"leave out {name}, R={r}: skilled EER {held_out[f'R{r}']['skilled']['eer']:.4f}")
    return {"left_out": name, "trained_on": trained_on, "model_sha256": other.sha256, "held_out": held_out}
