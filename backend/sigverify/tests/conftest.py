import os

import pytest

from testsupport.synthetic_data import write_folders_dataset
from testsupport.tiny_model import write_tiny_model


@pytest.fixture(scope="session")
def folders_tree(tmp_path_factory):
    """A small `folders` dataset drawn at test time: 6 writers x (7 genuine + 3 forged)."""
    return write_folders_dataset(tmp_path_factory.mktemp("folders"), writers=6, genuine=7, forged=3)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """Random weights, input 32x48: exercises the real loading and scoring code in milliseconds."""
    return write_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(autouse=True, scope="session")
def _private_cache_dir(tmp_path_factory):
    """Preprocessed caches of the tests' drawn datasets go to a session folder, not ~/.cache."""
    if not os.environ.get("SIGVERIFY_CACHE"):
        os.environ["SIGVERIFY_CACHE"] = str(tmp_path_factory.mktemp("sigverify-cache"))
