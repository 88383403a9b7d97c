"""Fixtures of the model registry's tests (the shared ones live in backend/testsupport/fixtures.py)."""

from __future__ import annotations

import pytest

from testsupport.tiny_model import write_tiny_model


@pytest.fixture
def candidate_version(db, tmp_path):
    """A second, inactive model version (what a training job would register)."""
    from apps.modelregistry.services import model_version_register

    version, _ = model_version_register(write_tiny_model(tmp_path / "candidate", name="candidate", seed=1))
    return version
