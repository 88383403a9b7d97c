"""Fixtures of the training app (the shared ones live in backend/testsupport/fixtures.py)."""

from __future__ import annotations

import pytest

from .factories import make_dataset


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
