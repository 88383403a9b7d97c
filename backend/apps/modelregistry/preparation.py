"""What a model version needs before it may serve, declared by the apps that keep data per version.

The registry sits below the apps that use models (signers keeps each reference's embedding
per version), so it cannot know their tables. Each such app registers a ``VersionPreparation``
in its ``AppConfig.ready()``; promotion runs every registered one and switches the active
version only when none of them is missing anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class VersionPreparation:
    name: str  # what is prepared, plural, e.g. "reference embeddings"
    total: Callable[[], int]  # how many items every version needs
    done: Callable[[object], int]  # how many of them exist for a version
    missing: Callable[[object], Iterable[int]]  # ids of the items a version still lacks
    prepare: Callable[[object, Progress], object]  # make the missing ones; calls progress(done, total)


_registered: dict[str, VersionPreparation] = {}


def register_preparation(preparation: VersionPreparation) -> None:
    """Declare (or re-declare, by name) what a version needs; call it from ``AppConfig.ready()``."""
    _registered[preparation.name] = preparation


def preparations() -> list[VersionPreparation]:
    return list(_registered.values())
