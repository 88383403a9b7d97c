"""Fixtures of the training app (the shared ones live in backend/apps/conftest.py)."""

from __future__ import annotations

import pytest

from .factories import make_dataset, make_model_dir


@pytest.fixture
def training_dirs(settings, tmp_path):
    """organized_data/ and the model root in a throwaway folder."""
    settings.SIGVERIFY_ORGANIZED_DATA = tmp_path / "organized_data"
    settings.SIGVERIFY_MODELS_ROOT = tmp_path / "models"
    settings.SIGVERIFY_ORGANIZED_DATA.mkdir()
    return settings.SIGVERIFY_ORGANIZED_DATA, settings.SIGVERIFY_MODELS_ROOT


@pytest.fixture
def tiny_dataset(training_dirs):
    """A 6-writer organised dataset named ``tiny`` in organized_data/."""
    return make_dataset(training_dirs[0], "tiny")


@pytest.fixture
def candidate_version(db, tmp_path):
    """A second, inactive model version (what a training job would register)."""
    from apps.modelregistry.services import register_model_dir

    version, _ = register_model_dir(make_model_dir(tmp_path / "candidate", tag="cand", seed=1))
    return version
