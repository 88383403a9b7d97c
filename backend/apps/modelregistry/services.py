"""Registering model directories as versions and switching the active one."""

from __future__ import annotations

import math
from pathlib import Path

from django.db import transaction
from sigverify.errors import ModelLoadError
from sigverify.weights import WEIGHTS_FILE, read_card, sha256_file

from .models import ModelVersion


def _version_name(card: dict, sha256: str) -> str:
    base = str(card.get("name") or "model")
    version = str(card.get("version") or "")
    name = f"{base}-{version}" if version else base
    return f"{name}-{sha256[:8]}"


def _finite_json(value):
    """The card with NaN/inf as null: PostgreSQL's jsonb refuses them (a training history can hold NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_json(v) for v in value]
    return value


@transaction.atomic
def register_model_dir(path, activate: bool = False, name: str | None = None) -> tuple[ModelVersion, bool]:
    """Register the model in ``path`` (card + safetensors). Idempotent by sha256.

    Returns (version, created). The file's hash must match its card: a damaged model is
    never registered. With ``activate`` the version becomes the active one.
    """
    path = Path(path).resolve()
    card = _finite_json(read_card(path))
    weights = path / card.get("weights_file", WEIGHTS_FILE)
    if not weights.is_file():
        raise ModelLoadError(f"weights file missing: {weights}")
    sha256 = sha256_file(weights)
    if card.get("sha256") and card["sha256"] != sha256:
        raise ModelLoadError(f"sha256 mismatch for {weights}: card says {card['sha256']}, file is {sha256}")

    version = ModelVersion.objects.filter(sha256=sha256).order_by("id").first()
    created = version is None
    if created:
        version = ModelVersion.objects.create(
            name=name or _version_name(card, sha256),
            weights_path=str(path),
            sha256=sha256,
            card=card,
            metrics=card.get("metrics", {}) or {},
            thresholds=card.get("thresholds", {}) or {},
            is_active=False,
        )
    if activate and not version.is_active:
        activate_version(version)
    return version, created


@transaction.atomic
def activate_version(version: ModelVersion) -> ModelVersion:
    """Make ``version`` the only active one, in one transaction (the constraint allows one)."""
    locked = list(ModelVersion.objects.select_for_update().filter(is_active=True))
    for other in locked:
        if other.pk != version.pk:
            ModelVersion.objects.filter(pk=other.pk).update(is_active=False)
    ModelVersion.objects.filter(pk=version.pk).update(is_active=True)
    version.is_active = True
    return version
