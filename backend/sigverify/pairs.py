"""Writer-disjoint splits and balanced, seeded pair lists.

A writer is named ``<dataset>/<writer>`` so writers of different datasets never collide.
Splits are assigned per writer, never per sample, so no writer is in two splits.
"""

from __future__ import annotations

import csv
import os
import random
from collections import defaultdict
from pathlib import Path

from .datasets import Sample
from .errors import DatasetError

SPLITS = ("train", "val", "test")
KINDS = ("genuine-genuine", "genuine-skilled", "genuine-random")
PAIR_FIELDS = ("path_a", "path_b", "label", "kind", "split", "writer_a", "writer_b")
SPLIT_FIELDS = ("writer", "split")


def writer_key(dataset: str, writer: str) -> str:
    return f"{dataset}/{writer}"


def assign_splits(writers, val_fraction: float = 0.125, test_fraction: float = 0.25, seed: int = 0) -> dict:
    """Writer -> split. Deterministic for a seed; each split gets at least one writer when possible."""
    writers = sorted(set(writers))
    rng = random.Random(seed)
    order = writers[:]
    rng.shuffle(order)
    n = len(order)
    n_test = int(round(n * test_fraction))
    n_val = int(round(n * val_fraction))
    if n >= 3:
        n_test, n_val = max(n_test, 1 if test_fraction > 0 else 0), max(n_val, 1 if val_fraction > 0 else 0)
    split = {}
    for i, w in enumerate(order):
        split[w] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    return split


def assign_splits_per_dataset(keys, val_fraction=0.125, test_fraction=0.25, seed=0) -> dict:
    """Split each dataset's writers separately, so every split has writers of every dataset."""
    by_dataset = defaultdict(list)
    for key in keys:
        by_dataset[key.split("/", 1)[0]].append(key)
    out = {}
    for _, members in sorted(by_dataset.items()):
        out.update(assign_splits(members, val_fraction, test_fraction, seed))
    return out


def write_splits(path, splits: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(SPLIT_FIELDS)
        for writer, split in sorted(splits.items()):
            w.writerow([writer, split])
    os.replace(tmp, path)


def read_splits(path) -> dict:
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != SPLIT_FIELDS:
            raise DatasetError(f"{path}: header must be {','.join(SPLIT_FIELDS)}")
        out = {row["writer"]: row["split"] for row in reader}
    bad = {s for s in out.values() if s not in SPLITS}
    if bad:
        raise DatasetError(f"{path}: unknown split names {sorted(bad)}")
    return out


def make_pairs(samples_by_key: dict, splits: dict, seed: int = 0, per_writer: int | None = None) -> list[dict]:
    """Balanced pairs per writer: as many negatives as positives, half skilled and half random.

    ``samples_by_key`` maps ``dataset/writer`` to that writer's samples (paths as they should
    appear in the CSV). Random negatives pair a genuine of W with a genuine of another writer
    of the same split, so pairs never cross splits.
    """
    rng = random.Random(seed)
    genuine = {k: [s for s in v if s.is_genuine] for k, v in samples_by_key.items()}
    forged = {k: [s for s in v if not s.is_genuine] for k, v in samples_by_key.items()}
    by_split = defaultdict(list)
    for key in sorted(samples_by_key):
        by_split[splits[key]].append(key)
    rows = []
    for key in sorted(samples_by_key):
        split = splits[key]
        gen = genuine[key]
        positives = [(a, b) for i, a in enumerate(gen) for b in gen[i + 1 :]]
        rng.shuffle(positives)
        if per_writer:
            positives = positives[:per_writer]
        n = len(positives)
        others = [k for k in by_split[split] if k != key and genuine[k]]
        n_skilled = min(n // 2, len(gen) * len(forged[key])) if forged[key] else 0
        n_random = n - n_skilled if others else 0
        if not others and forged[key]:
            n_skilled = min(n, len(gen) * len(forged[key]))
        for a, b in positives[: n_skilled + n_random]:
            rows.append(_row(a, b, 1, "genuine-genuine", split, key, key))
        for _ in range(n_skilled):
            rows.append(_row(rng.choice(gen), rng.choice(forged[key]), 0, "genuine-skilled", split, key, key))
        for _ in range(n_random):
            other = rng.choice(others)
            rows.append(_row(rng.choice(gen), rng.choice(genuine[other]), 0, "genuine-random", split, key, other))
    return rows


def _row(a: Sample, b: Sample, label: int, kind: str, split: str, wa: str, wb: str) -> dict:
    return {
        "path_a": Path(a.path).as_posix(),
        "path_b": Path(b.path).as_posix(),
        "label": label,
        "kind": kind,
        "split": split,
        "writer_a": wa,
        "writer_b": wb,
    }


def write_pairs(path, rows: list[dict]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=PAIR_FIELDS)
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def read_pairs(path) -> list[dict]:
    with open(path, newline="") as fh:
        return [dict(r, label=int(r["label"])) for r in csv.DictReader(fh)]
