"""Stored images that no row points at, and their removal.

Services save an image file and its row in one transaction and delete the file when the
transaction fails. Only a process killed between the two (SIGKILL, power loss) can leave a
file behind; ``sweep_orphan_files`` (command ``manage.py sweep_orphan_files``) removes those.
Files younger than the grace period are never touched: their request may still be running.

Each app that stores files says which folder holds them and which model's field points at
them, with ``register_stored_files`` in its ``AppConfig.ready()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.core.files.storage import default_storage
from django.utils import timezone

_owners: dict[str, tuple[type, str]] = {}


def register_stored_files(folder: str, model, field: str = "image") -> None:
    """Files under ``folder`` in the default storage belong to ``model`` rows, by ``field``."""
    _owners[folder] = (model, field)


def _leaf_dirs(top: str):
    """(directory, file names) for every directory under ``top`` that holds files."""
    try:
        dirs, files = default_storage.listdir(top)
    except (FileNotFoundError, NotADirectoryError):
        return
    if files:
        yield top, files
    for d in sorted(dirs):
        yield from _leaf_dirs(f"{top}/{d}")


@dataclass
class SweepResult:
    checked: int = 0
    orphans: list = field(default_factory=list)
    removed: int = 0


def sweep_orphan_files(older_than: timedelta = timedelta(hours=1), dry_run: bool = False) -> SweepResult:
    """Find (and unless ``dry_run`` delete) stored images older than ``older_than`` without a row."""
    cutoff = timezone.now() - older_than
    result = SweepResult()
    for top, (model, field_name) in sorted(_owners.items()):
        for directory, files in _leaf_dirs(top):
            # One query per directory keeps memory bounded however many rows there are.
            rows = model.objects.filter(**{f"{field_name}__startswith": f"{directory}/"})
            known = set(rows.values_list(field_name, flat=True))
            for name in files:
                path = f"{directory}/{name}"
                result.checked += 1
                if path in known or default_storage.get_modified_time(path) > cutoff:
                    continue
                result.orphans.append(path)
                if not dry_run:
                    default_storage.delete(path)
                    result.removed += 1
    return result
