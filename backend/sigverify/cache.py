"""A compact store of preprocessed images: one uint8 ``.npy`` per dataset and input size.

Training epochs and evaluations read rows of a memory-mapped array instead of decoding
and preprocessing the same file again. The key is the preprocessing version and the
input size, so changing either builds a new store beside the old one. Stores live under
``SIGVERIFY_CACHE`` (default ``~/.cache/sigverify``), one folder per dataset path, and are
rebuilt when the dataset's files change: nothing is ever written inside an input folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .datasets import Sample
from .errors import ImageRejected
from .preprocess import PREPROCESS_VERSION, preprocess


def cache_base() -> Path:
    return Path(os.environ.get("SIGVERIFY_CACHE") or Path.home() / ".cache" / "sigverify")


def default_cache_dir(root: Path) -> Path:
    """The cache folder of a dataset: keyed by its resolved path (its content is checked on use)."""
    resolved = Path(root).resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:12]
    return cache_base() / f"{resolved.name}-{digest}"


def _fingerprint(samples: list[Sample], root: Path) -> list[list]:
    rows = []
    for s in samples:
        st = os.stat(s.path)
        rows.append([os.path.relpath(s.path, root), st.st_size, int(st.st_mtime)])
    return rows


class ImageCache:
    """Preprocessed arrays for a list of samples; ``valid[i]`` is False for rejected images."""

    def __init__(self, arrays: np.ndarray, valid: np.ndarray, samples: list[Sample], location: Path | None = None):
        self.arrays = arrays
        self.valid = valid
        self.samples = samples
        self.location = location  # the .npy file, when stored

    def __len__(self) -> int:
        return len(self.samples)

    @classmethod
    def build(cls, samples: list[Sample], root, size, cache_dir=None, progress=True) -> ImageCache:
        root = Path(root)
        cache_dir = Path(cache_dir) if cache_dir else default_cache_dir(root)
        height, width = size
        stem = cache_dir / f"pp{PREPROCESS_VERSION}_{height}x{width}"
        array_path, index_path = stem.with_suffix(".npy"), stem.with_suffix(".json")
        fingerprint = _fingerprint(samples, root)
        if array_path.exists() and index_path.exists():
            index = json.loads(index_path.read_text())
            if index.get("files") == fingerprint:
                arrays = np.load(array_path, mmap_mode="r")
                return cls(arrays, np.asarray(index["valid"], dtype=bool), samples, array_path)
        cache_dir.mkdir(parents=True, exist_ok=True)
        arrays = np.zeros((len(samples), height, width), dtype=np.uint8)
        valid = np.ones(len(samples), dtype=bool)
        rejected = {}
        for i, s in enumerate(tqdm(samples, desc=f"preprocess {root.name}", disable=not progress, unit="img")):
            try:
                arrays[i] = preprocess(s.path, size=size)
            except ImageRejected as exc:
                valid[i] = False
                rejected[str(s.path)] = exc.message
        tmp_array = array_path.with_suffix(".npy.part")
        with open(tmp_array, "wb") as fh:
            np.save(fh, arrays)
        os.replace(tmp_array, array_path)
        tmp_index = index_path.with_suffix(".json.part")
        tmp_index.write_text(
            json.dumps(
                {
                    "preprocess_version": PREPROCESS_VERSION,
                    "size": [height, width],
                    "files": fingerprint,
                    "valid": valid.tolist(),
                    "rejected": rejected,
                }
            )
        )
        os.replace(tmp_index, index_path)
        return cls(arrays, valid, samples, array_path)
