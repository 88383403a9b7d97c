"""The notebooks' helpers: the small settings' datasets and the figures of signatures."""

import pandas as pd
import pytest

from sigverify.datasets import load_dataset
from sigverify.errors import DatasetError
from sigverify.figures import error_gallery, raw_and_preprocessed
from testsupport.small_settings import organised_datasets, synthetic_datasets


def test_synthetic_datasets_are_organised_like_a_real_one(tmp_path):
    [data_dir] = synthetic_datasets(tmp_path, writers=3, genuine=4, forged=2)
    assert (data_dir / "manifest.csv").is_file()
    _, samples = load_dataset(data_dir)
    assert len(samples) == 3 * (4 + 2) and {s.writer for s in samples} == {"w01", "w02", "w03"}


def test_organised_datasets_lists_those_with_a_manifest_and_refuses_none(tmp_path):
    with pytest.raises(DatasetError, match="no organised datasets"):
        organised_datasets(tmp_path)
    (tmp_path / "gpds").mkdir()
    (tmp_path / "gpds" / "manifest.csv").write_text("path,writer,label,sample\n")
    (tmp_path / "cedar").mkdir()  # no manifest: not organised
    assert organised_datasets(tmp_path) == [tmp_path / "gpds"]


def test_raw_and_preprocessed_shows_each_sample_twice(tmp_path):
    [data_dir] = synthetic_datasets(tmp_path, writers=1, genuine=2, forged=1)
    _, samples = load_dataset(data_dir)
    fig = raw_and_preprocessed(samples, (32, 48), "writer 1")
    assert len(fig.axes) == 2 * len(samples)
    assert fig.axes[len(samples)].get_images()[0].get_array().shape == (32, 48)


def test_error_gallery_of_no_errors_draws_nothing(capsys):
    assert error_gallery(pd.DataFrame(), verifier=None, title="false accepts") is None
    assert "false accepts: none" in capsys.readouterr().out
