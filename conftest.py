"""Fixtures shared by every test folder."""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent


def shared_datasets_dir() -> Path:
    return Path(os.environ.get("SIGVERIFY_SHARED_DATASETS", REPO_ROOT.parent / "shared" / "datasets"))


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """../shared/datasets: skipped where absent, but CI has it and must run these tests."""
    path = shared_datasets_dir()
    if not (path / "CEDAR").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the real-data tests, but {path} has no CEDAR/")
        pytest.skip(f"no development datasets at {path}")
    return path


@pytest.fixture(scope="session")
def shipped_model_dir() -> Path:
    """trained_model_parameters/: the weights the product ships."""
    path = REPO_ROOT / "trained_model_parameters"
    if not (path / "model.safetensors").exists():
        if os.environ.get("CI"):
            pytest.fail(f"no shipped weights in {path}")
        pytest.skip(f"no shipped weights in {path} yet")
    return path
