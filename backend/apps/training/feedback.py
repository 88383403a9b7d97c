"""The feedback loop: the bank's own labelled signatures as a training dataset.

Exports enrolled references (genuine) and human-reviewed verifications (the reviewer's final
call: genuine or forgery) into ``organized_data/<name>/`` in the organised ``folders`` layout
with its manifest, so ``sigverify train`` and training jobs read it like any imported dataset.

Writers are named ``signer-<pk>``, never by the bank's external id (an account number has
no place in a training set). The folder is written beside the target and renamed into place.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from PIL import Image

from apps.signers.models import ReferenceSignature
from apps.verifications.models import Review, Verification
from sigverify.datasets import Sample, write_manifest

SOURCES_FILE = "sources.csv"
_DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_SUFFIX_BY_FORMAT = {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif", "BMP": ".bmp"}
LABEL_BY_FINAL_DECISION = {Review.FinalDecision.GENUINE: "genuine", Review.FinalDecision.FORGERY: "forged"}


@dataclass
class ExportResult:
    path: Path
    samples: int = 0
    writers: int = 0
    references: int = 0
    reviewed_genuine: int = 0
    reviewed_forged: int = 0
    skipped: list = field(default_factory=list)  # (source, reason)

    def as_dict(self) -> dict:
        return {
            "path": str(self.path),
            "samples": self.samples,
            "writers": self.writers,
            "references": self.references,
            "reviewed_genuine": self.reviewed_genuine,
            "reviewed_forged": self.reviewed_forged,
            "skipped": [{"source": s, "reason": r} for s, r in self.skipped],
        }


def check_dataset_name(name: str) -> str:
    if not _DATASET_NAME.match(name or ""):
        raise ValueError(f"dataset name {name!r}: use letters, digits, '.', '_' or '-' (no path separators)")
    return name


def _image_bytes(field_file) -> bytes:
    with field_file.open("rb") as fh:
        return fh.read()


def _encode(data: bytes, crop) -> tuple[bytes, str]:
    """(file bytes, suffix). Uncropped images are copied as they are; a crop is cut and saved as PNG."""
    with Image.open(io.BytesIO(data)) as img:
        if not crop:
            suffix = _SUFFIX_BY_FORMAT.get(img.format or "")
            if suffix:
                return data, suffix
            out = io.BytesIO()
            img.save(out, format="PNG")
            return out.getvalue(), ".png"
        x, y, width, height = (int(v) for v in crop)
        out = io.BytesIO()
        img.crop((x, y, x + width, y + height)).save(out, format="PNG")
        return out.getvalue(), ".png"


def _labelled_sources(include_references: bool, include_reviewed: bool):
    """(writer, label, source id, field file, crop) in a stable order."""
    if include_references:
        for ref in ReferenceSignature.objects.order_by("signer_id", "id").iterator():
            yield f"signer-{ref.signer_id}", "genuine", f"reference:{ref.pk}", ref.image, None, ref.sha256
    if include_reviewed:
        reviewed = (
            Verification.objects.filter(review__isnull=False).select_related("review").order_by("signer_id", "id")
        )
        for ver in reviewed.iterator():
            label = LABEL_BY_FINAL_DECISION.get(ver.review.final_decision)
            if label:
                yield f"signer-{ver.signer_id}", label, f"verification:{ver.pk}", ver.image, ver.crop, ver.image_sha256


def export_labelled_data(
    name: str, *, include_references: bool = True, include_reviewed: bool = True, root=None
) -> ExportResult:
    """Write ``<root>/<name>/`` (root defaults to SIGVERIFY_ORGANIZED_DATA), replacing any older export."""
    check_dataset_name(name)
    root = Path(root or settings.SIGVERIFY_ORGANIZED_DATA)
    root.mkdir(parents=True, exist_ok=True)
    target = root / name
    part = root / f".{name}.part-{uuid.uuid4().hex[:8]}"
    result = ExportResult(path=target)
    by_writer: dict[str, list] = defaultdict(list)
    seen = set()
    for writer, label, source, field_file, crop, sha in _labelled_sources(include_references, include_reviewed):
        key = (writer, sha, tuple(crop) if crop else None)
        if key in seen:  # a reviewed image that is also a reference, or a repeat: once is enough
            result.skipped.append((source, "duplicate image"))
            continue
        seen.add(key)
        by_writer[writer].append((label, source, field_file, crop))

    samples, sources = [], []
    try:
        part.mkdir(parents=True)
        for writer, items in by_writer.items():
            if not any(label == "genuine" for label, *_ in items):
                # A forgery with no genuine signature of that writer teaches the model nothing.
                result.skipped.extend((source, "writer has no genuine sample") for _, source, _, _ in items)
                continue
            numbers = defaultdict(int)
            for label, source, field_file, crop in items:
                try:
                    data, suffix = _encode(_image_bytes(field_file), crop)
                except (OSError, ValueError, Image.DecompressionBombError) as exc:
                    result.skipped.append((source, f"unreadable image: {exc}"))
                    continue
                numbers[label] += 1
                rel = Path(writer) / label / f"{numbers[label]:03d}{suffix}"
                (part / rel).parent.mkdir(parents=True, exist_ok=True)
                (part / rel).write_bytes(data)
                samples.append(Sample(rel, writer, label, numbers[label]))
                sources.append((rel.as_posix(), source))
                if source.startswith("reference:"):
                    result.references += 1
                elif label == "genuine":
                    result.reviewed_genuine += 1
                else:
                    result.reviewed_forged += 1
        write_manifest(part, samples)
        with open(part / SOURCES_FILE, "w", newline="") as fh:
            writer_csv = csv.writer(fh)
            writer_csv.writerow(("path", "source"))
            writer_csv.writerows(sources)
        if target.exists():
            old = root / f".{name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(target, old)
            os.replace(part, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(part, target)
    finally:
        shutil.rmtree(part, ignore_errors=True)
    result.samples = len(samples)
    result.writers = len({s.writer for s in samples})
    return result
