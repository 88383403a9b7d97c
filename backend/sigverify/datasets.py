"""Dataset layouts (CEDAR, GPDS, plain folders) and the organised copy with its manifest.

An imported dataset lives in ``organized_data/<name>/``:

    manifest.csv                      path,writer,label,sample
    <writer>/genuine/<sample>.<ext>
    <writer>/forged/<sample>.<ext>

so an organised dataset is itself a valid ``folders`` tree.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .errors import DatasetError

LAYOUTS = ("cedar", "gpds", "folders")
LABELS = ("genuine", "forged")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
MANIFEST = "manifest.csv"
MANIFEST_FIELDS = ("path", "writer", "label", "sample")

_CEDAR = re.compile(r"^(original|forgeries)_(\d+)_(\d+)$", re.IGNORECASE)
_GPDS = re.compile(r"^(c|cf)-(\d+)-(\d+)$", re.IGNORECASE)
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
    scanner = {"cedar": _scan_cedar, "gpds": _scan_gpds, "folders": _scan_folders}[layout]
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


def import_dataset(source, layout: str, dest) -> list[Sample]:
    """Copy a dataset into the organised layout and write its manifest. Idempotent."""
    samples = scan(source, layout)
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
    return organised


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

    Returned sample paths are absolute.
    """
    root = Path(path)
    if (root / MANIFEST).exists() and layout in (None, "folders"):
        samples = [Sample(root / s.path, s.writer, s.label, s.sample) for s in read_manifest(root)]
    else:
        samples = scan(root, layout or "folders")
    return root, samples


def counts(samples: list[Sample]) -> dict:
    writers = {s.writer for s in samples}
    by_label = Counter(s.label for s in samples)
    return {"writers": len(writers), "genuine": by_label["genuine"], "forged": by_label["forged"]}
