"""A compact store of preprocessed images: one uint8 ``.npy`` per dataset and input size.

Training epochs and evaluations read rows of a memory-mapped array instead of decoding
and preprocessing the same file again. The key is the preprocessing version and the
input size, so changing either builds a new store beside the old one. Stores live under
``SIGVERIFY_CACHE`` (default ``~/.cache/sigverify``), one folder per dataset path: nothing is
ever written inside an input folder.

A store holds every image any caller asked for. A request for some of them (one split's
writers) is served from its rows; images it lacks, or whose file changed, are preprocessed and
merged in. The index (``.json``) names its array file, and each rewrite writes a new array
before it replaces the index, so a reader in another process never pairs an index with
another version's rows.
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


def _current(rows: list[list], root: Path) -> list[bool]:
    """Whether each stored (path, size, mtime) still describes the file on disk."""
    out = []
    for path, size, mtime in rows:
        try:
            st = os.stat(root / path)
        except OSError:
            out.append(False)
        else:
            out.append(st.st_size == size and int(st.st_mtime) == mtime)
    return out


class _Store:
    """One dataset's stored rows at one size: index (files, valid, rejected) and the array it names."""

    def __init__(self, stem: Path):
        self.index_path = stem.with_suffix(".json")
        self.stem = stem

    def read(self):
        """(index, memory-mapped array, its path), or None when there is no complete store."""
        for _ in range(3):  # the array may be replaced between reading the index and opening it
            try:
                index = json.loads(self.index_path.read_text())
                # Stores written before the index named its array use the plain name.
                array_path = self.index_path.with_name(index.get("array", self.stem.name + ".npy"))
                return index, np.load(array_path, mmap_mode="r"), array_path
            except FileNotFoundError:
                if not self.index_path.exists():
                    return None
            except (ValueError, KeyError):
                return None  # a damaged store is rebuilt
        return None

    def write(self, files, arrays: np.ndarray, valid: np.ndarray, rejected: dict) -> Path:
        token = hashlib.sha1(json.dumps(files).encode()).hexdigest()[:12]
        array_path = self.index_path.with_name(f"{self.stem.name}.{token}.npy")
        tmp_array = array_path.with_suffix(".npy.part")
        array_path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp_array, "wb") as fh:
            np.save(fh, arrays)
        os.replace(tmp_array, array_path)
        tmp_index = self.index_path.with_suffix(".json.part")
        tmp_index.write_text(
            json.dumps(
                {
                    "preprocess_version": PREPROCESS_VERSION,
                    "size": list(arrays.shape[1:]),
                    "array": array_path.name,
                    "files": files,
                    "valid": valid.tolist(),
                    "rejected": rejected,
                }
            )
        )
        os.replace(tmp_index, self.index_path)
        return array_path


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
        store = _Store(cache_dir / f"pp{PREPROCESS_VERSION}_{height}x{width}")
        fingerprint = _fingerprint(samples, root)
        stored = store.read()
        if stored is not None:
            index, array, array_path = stored
            if index.get("files") == fingerprint:
                return cls(array, np.asarray(index["valid"], dtype=bool), samples, array_path)
            row_of = {tuple(r): i for i, r in enumerate(index.get("files", []))}
            # A strict subset (one split's writers) is served from the stored rows. A request for all of
            # them in another order is merged instead: the store is rewritten in it, so the next maps it.
            if len(fingerprint) < len(row_of) and all(tuple(r) in row_of for r in fingerprint):
                rows = [row_of[tuple(r)] for r in fingerprint]
                return cls(np.asarray(array[rows]), np.asarray(index["valid"], dtype=bool)[rows], samples, array_path)
        return cls._merge(samples, fingerprint, root, store, stored, size, progress)

    @classmethod
    def _merge(cls, samples, fingerprint, root, store: _Store, stored, size, progress) -> ImageCache:
        """Preprocess what the store lacks, and write it back with the stored rows that are still current."""
        index, array, old_path = stored if stored is not None else ({}, None, None)
        files, old_valid = index.get("files", []), index.get("valid", [])
        row_of = {tuple(r): i for i, r in enumerate(files)}
        arrays = np.zeros((len(samples), *size), dtype=np.uint8)
        valid = np.ones(len(samples), dtype=bool)
        reasons = dict(index.get("rejected", {}))  # relative path -> why the image was rejected
        missing = []
        for i, row in enumerate(fingerprint):
            j = row_of.get(tuple(row))
            if j is None:
                missing.append(i)
            else:
                arrays[i], valid[i] = array[j], old_valid[j]
        for i in tqdm(missing, desc=f"preprocess {root.name}", disable=not progress, unit="img"):
            try:
                arrays[i] = preprocess(samples[i].path, size=size)
            except ImageRejected as exc:
                valid[i] = False
                reasons[fingerprint[i][0]] = exc.message
        # Rows of other images (other splits' writers) stay, unless their file has changed since.
        asked = {tuple(r) for r in fingerprint}
        others = [j for j, ok in enumerate(_current(files, root)) if ok and tuple(files[j]) not in asked]
        all_files = fingerprint + [files[j] for j in others]
        all_valid = np.r_[valid, np.asarray([old_valid[j] for j in others], dtype=bool)]
        array_path = store.write(
            all_files,
            np.concatenate([arrays, np.asarray(array[others])]) if others else arrays,
            all_valid,
            {row[0]: reasons.get(row[0], "rejected") for row, ok in zip(all_files, all_valid, strict=True) if not ok},
        )
        if old_path is not None and old_path != array_path:
            old_path.unlink(missing_ok=True)  # a reader that mapped it keeps its view
        return cls(arrays, valid, samples, array_path)
