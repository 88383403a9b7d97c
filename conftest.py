"""Fixtures shared by every test folder; the backend's fixtures come from ``testsupport.fixtures``."""

import os
from pathlib import Path

import pytest

from testsupport.ci import skip_or_fail

pytest_plugins = ["testsupport.fixtures"]

REPO_ROOT = Path(__file__).resolve().parent


def shared_datasets_dir() -> Path:
    return Path(os.environ.get("SIGVERIFY_SHARED_DATASETS", REPO_ROOT.parent / "shared" / "datasets"))


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """../shared/datasets: skipped where absent, but CI has it and must run these tests."""
    path = shared_datasets_dir()
    if not (path / "CEDAR").is_dir():
        skip_or_fail(f"no development datasets at {path} (no CEDAR/)")
    return path


@pytest.fixture(scope="session")
def shared_x9() -> Path:
    """../shared/x9: image cash letters from another implementation's tests (read there, never copied)."""
    path = Path(os.environ.get("SIGVERIFY_SHARED_X9", REPO_ROOT.parent / "shared" / "x9"))
    if not (path / "crashers").is_dir():
        skip_or_fail(f"no image cash letter test files at {path} (no crashers/)")
    return path


@pytest.fixture(scope="session")
def shipped_model_dir() -> Path:
    """trained_model_parameters/: the weights the product ships."""
    path = REPO_ROOT / "trained_model_parameters"
    if not (path / "model.safetensors").exists():
        skip_or_fail(f"no shipped weights in {path}")
    return path
