import pytest

from sigverify.synthetic import write_folders_dataset


@pytest.fixture(scope="session")
def folders_tree(tmp_path_factory):
    """A small `folders` dataset drawn at test time: 6 writers x (7 genuine + 3 forged)."""
    return write_folders_dataset(tmp_path_factory.mktemp("folders"), writers=6, genuine=7, forged=3)
