"""Dataset layouts (CEDAR, GPDS, BHSig260, plain folders) and the organised copy with its manifest.

An imported dataset lives in ``organized_data/<name>/``:

    manifest.csv                      path,writer,label,sample
    duplicates.csv                    path,writer,label,sample,same_as (left out of the manifest)
    <writer>/genuine/<sample>.<ext>
    <writer>/forged/<sample>.<ext>

so an organised dataset is itself a valid ``folders`` tree. Exact duplicates inside one writer
(same bytes, or same pixels) are kept once: a duplicate pair as reference and query would
inflate every figure.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import DatasetError

LAYOUTS = ("cedar", "gpds", "bhsig260", "folders")
LABELS = ("genuine", "forged")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
MANIFEST = "manifest.csv"
MANIFEST_FIELDS = ("path", "writer", "label", "sample")

_CEDAR = re.compile(r"^(original|forgeries)_(\d+)_(\d+)$", re.IGNORECASE)
_GPDS = re.compile(r"^(c|cf)-(\d+)-(\d+)$", re.IGNORECASE)
_BHSIG = re.compile(r"^([BH])-S-(\d+)-([GF])-(\d+)$", re.IGNORECASE)
DUPLICATES = "duplicates.csv"
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


@dataclass(frozen=True)
class Sample:
    path: Path  # absolute, or relative to the dataset root in a manifest
    writer: str
    label: str  # genuine | forged
    sample: int

    @property
    def is_genuine(self) -> bool:
        return self.label == "genuine"


def _images(folder: Path):
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _scan_cedar(root: Path) -> list[Sample]:
    samples = []
    for sub, label in (("full_org", "genuine"), ("full_forg", "forged")):
        folder = root / sub
        if not folder.is_dir():
            raise DatasetError(f"cedar layout: missing folder {folder}")
        for path in _images(folder):
            match = _CEDAR.match(path.stem)
            kind = "original" if label == "genuine" else "forgeries"
            if not match or match.group(1).lower() != kind:
                raise DatasetError(f"cedar layout: unexpected file name {path} (want {kind}_W_I.png)")
            samples.append(Sample(path, str(int(match.group(2))), label, int(match.group(3))))
    return samples


def _scan_gpds(root: Path) -> list[Sample]:
    samples = []
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if not folders:
        raise DatasetError(f"gpds layout: no writer folders (WWW/) under {root}")
    for folder in folders:
        if not folder.name.isdigit():
            raise DatasetError(f"gpds layout: writer folder name is not a number: {folder}")
        for path in _images(folder):
            match = _GPDS.match(path.stem)
            if not match:
                raise DatasetError(f"gpds layout: unexpected file name {path} (want c-WWW-II or cf-WWW-II)")
            if int(match.group(2)) != int(folder.name):
                raise DatasetError(f"gpds layout: {path} names writer {match.group(2)} but sits in {folder.name}/")
            label = "genuine" if match.group(1).lower() == "c" else "forged"
            samples.append(Sample(path, str(int(folder.name)), label, int(match.group(3))))
    return samples


def _scan_bhsig260(root: Path) -> list[Sample]:
    """One script's folder of BHSig260 (``Bengali/`` or ``Hindi/``): ``N/B-S-N-G-II.tif``.

    The writer is the folder: some file names carry a zero-padded id (``H-S-011-F-16.tif`` in ``11/``).
    """
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if folders and not any(p.name.isdigit() for p in folders):
        scripts = ", ".join(p.name for p in folders)
        raise DatasetError(f"bhsig260 layout: {root} holds no writer folders; give one script folder ({scripts})")
    if not folders:
        raise DatasetError(f"bhsig260 layout: no writer folders (N/) under {root}")
    samples = []
    for folder in folders:
        if not folder.name.isdigit():
            raise DatasetError(f"bhsig260 layout: writer folder name is not a number: {folder}")
        for path in _images(folder):
            match = _BHSIG.match(path.stem)
            if not match:
                raise DatasetError(
                    f"bhsig260 layout: unexpected file name {path} (want B-S-N-G-II.tif or H-S-N-F-II.tif)"
                )
            if int(match.group(2)) != int(folder.name):
                raise DatasetError(f"bhsig260 layout: {path} names writer {match.group(2)} but sits in {folder.name}/")
            label = "genuine" if match.group(3).upper() == "G" else "forged"
            samples.append(Sample(path, str(int(folder.name)), label, int(match.group(4))))
    return samples


def sample_number(name: str) -> int:
    """The last number in a file name orders ``folders`` samples (``sig_12.png`` -> 12)."""
    match = _LAST_NUMBER.search(Path(name).stem)
    return int(match.group(1)) if match else 0


def _scan_folders(root: Path) -> list[Sample]:
    samples = []
    writers = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    for folder in writers:
        if folder.name == "cache":
            continue
        subs = {p.name for p in folder.iterdir() if p.is_dir()}
        if "genuine" not in subs:
            raise DatasetError(f"folders layout: {folder} has no genuine/ folder")
        for label in LABELS:
            if label not in subs:
                continue
            for path in _images(folder / label):
                samples.append(Sample(path, folder.name, label, sample_number(path.name)))
    if not samples:
        raise DatasetError(f"folders layout: no <writer>/genuine/ images under {root}")
    return samples


def scan(root: str | os.PathLike, layout: str) -> list[Sample]:
    """List the samples of a dataset tree, or raise ``DatasetError`` naming the bad path."""
    root = Path(root)
    if layout not in LAYOUTS:
        raise DatasetError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if not root.is_dir():
        raise DatasetError(f"dataset folder does not exist: {root}")
    scanner = {"cedar": _scan_cedar, "gpds": _scan_gpds, "bhsig260": _scan_bhsig260, "folders": _scan_folders}[layout]
    samples = scanner(root)
    if not samples:
        raise DatasetError(f"{layout} layout: no images found under {root}")
    seen = Counter((s.writer, s.label, s.sample) for s in samples)
    dupes = [key for key, n in seen.items() if n > 1]
    if dupes:
        w, lab, n = dupes[0]
        raise DatasetError(f"{layout} layout: writer {w} has two {lab} samples numbered {n} under {root}")
    return sorted(samples, key=lambda s: (_writer_key(s.writer), s.label != "genuine", s.sample))


def _writer_key(writer: str):
    return (0, int(writer), "") if writer.isdigit() else (1, 0, writer)


@dataclass(frozen=True)
class Duplicate:
    sample: Sample
    same_as: Sample  # the kept sample with the same bytes or pixels


def _pixel_digest(path: Path) -> str | None:
    try:
        with Image.open(path) as image:
            image.seek(0)
            pixels = np.asarray(image.convert("L"))
    except Exception:  # an unreadable file is rejected later, with its reason, by preprocessing
        return None
    return hashlib.sha256(pixels.tobytes() + str(pixels.shape).encode()).hexdigest()


def split_duplicates(samples: list[Sample]) -> tuple[list[Sample], list[Duplicate]]:
    """(samples with each writer's exact duplicates left out, the duplicates left out).

    Two images of one writer are duplicates when their bytes or their decoded pixels are equal;
    the first in scan order (genuine before forged, lower number first) is kept.
    """
    kept, dupes = [], []
    seen: dict[tuple[str, str], Sample] = {}
    for s in samples:
        data = Path(s.path).read_bytes()
        keys = [("bytes", hashlib.sha256(data).hexdigest())]
        pixels = _pixel_digest(Path(s.path))
        if pixels:
            keys.append(("pixels", pixels))
        first = next((seen[(s.writer, k)] for _, k in keys if (s.writer, k) in seen), None)
        if first is not None:
            dupes.append(Duplicate(s, first))
            continue
        for _, k in keys:
            seen[(s.writer, k)] = s
        kept.append(s)
    return kept, dupes


def import_dataset(source, layout: str, dest) -> list[Sample]:
    """Copy a dataset into the organised layout and write its manifest. Idempotent.

    Exact duplicates are left out and listed in ``duplicates.csv`` (``read_duplicates``).
    """
    samples, dupes = split_duplicates(scan(source, layout))
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    organised = []
    for s in samples:
        rel = Path(s.writer) / s.label / f"{s.sample:03d}{s.path.suffix.lower()}"
        target = dest / rel
        if not (target.exists() and target.stat().st_size == s.path.stat().st_size):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(s.path, target)
        organised.append(Sample(rel, s.writer, s.label, s.sample))
    write_manifest(dest, organised)
    _write_duplicates(dest, dupes, Path(source))
    return organised


def _write_duplicates(dest: Path, dupes: list[Duplicate], source: Path) -> None:
    path = dest / DUPLICATES
    tmp = path.with_suffix(".csv.part")
    with open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow((*MANIFEST_FIELDS, "same_as"))
        for d in dupes:
            s = d.sample
            writer.writerow(
                [
                    Path(s.path).relative_to(source).as_posix(),
                    s.writer,
                    s.label,
                    s.sample,
                    Path(d.same_as.path).relative_to(source).as_posix(),
                ]
            )
    os.replace(tmp, path)


def read_duplicates(dataset_dir) -> list[dict]:
    """Rows of an organised dataset's ``duplicates.csv`` (none before this file existed)."""
    path = Path(dataset_dir) / DUPLICATES
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def write_manifest(dest: Path, samples: list[Sample]) -> Path:
    path = Path(dest) / MANIFEST
    tmp = path.with_suffix(".csv.part")
    with open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(MANIFEST_FIELDS)
        for s in samples:
            writer.writerow([s.path.as_posix(), s.writer, s.label, s.sample])
    os.replace(tmp, path)
    return path


def read_manifest(dataset_dir) -> list[Sample]:
    """Samples of an organised dataset, paths relative to ``dataset_dir``."""
    path = Path(dataset_dir) / MANIFEST
    if not path.exists():
        raise DatasetError(f"no {MANIFEST} in {dataset_dir}: run `sigverify import-data` first")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != MANIFEST_FIELDS:
            raise DatasetError(f"{path}: header must be {','.join(MANIFEST_FIELDS)}")
        return [Sample(Path(r["path"]), r["writer"], r["label"], int(r["sample"])) for r in reader]


def load_dataset(path, layout: str | None = None) -> tuple[Path, list[Sample]]:
    """An organised dataset (has a manifest) or a raw tree in ``layout``: (root, samples).

    Returned sample paths are absolute. A raw tree's exact duplicates are left out, as at import.
    """
    root = Path(path)
    if (root / MANIFEST).exists() and layout in (None, "folders"):
        samples = [Sample(root / s.path, s.writer, s.label, s.sample) for s in read_manifest(root)]
    else:
        samples, _ = split_duplicates(scan(root, layout or "folders"))
    return root, samples


def counts(samples: list[Sample]) -> dict:
    writers = {s.writer for s in samples}
    by_label = Counter(s.label for s in samples)
    return {"writers": len(writers), "genuine": by_label["genuine"], "forged": by_label["forged"]}
