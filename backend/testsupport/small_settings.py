"""The notebooks' small settings (``SIGVERIFY_NOTEBOOK_SMALL=1``, as CI runs them): a synthetic
dataset organised like a real one, and tiny models trained on it in seconds. Without small
settings, the real organised datasets."""

from __future__ import annotations

from pathlib import Path

from sigverify.datasets import import_dataset
from sigverify.errors import DatasetError
from sigverify.options import TrainConfig
from testsupport.synthetic_data import write_folders_dataset

REAL_DATASETS = ("cedar", "gpds")
# The shipped recipe's input size (TrainConfig's default), and a quarter of it for smoke runs.
RECIPE_INPUT_SIZE: tuple[int, int] = TrainConfig.model_fields["input_size"].default
SMALL_INPUT_SIZE = tuple(side // 4 for side in RECIPE_INPUT_SIZE)


def synthetic_datasets(work, writers: int = 8, genuine: int = 6, forged: int = 3) -> list[Path]:
    """A synthetic ``folders`` tree imported as ``<work>/organized_data/synthetic`` (a list of one)."""
    work = Path(work)
    raw = write_folders_dataset(work / "raw", writers=writers, genuine=genuine, forged=forged)
    dest = work / "organized_data" / "synthetic"
    import_dataset(raw, "folders", dest)
    return [dest]


def organised_datasets(organized, names=REAL_DATASETS) -> list[Path]:
    """The real datasets already organised under ``organized`` (those with a manifest)."""
    found = [Path(organized) / name for name in names if (Path(organized) / name / "manifest.csv").exists()]
    if not found:
        raise DatasetError(
            f"no organised datasets in {organized}: run 01_data_and_preprocessing or `sigverify import-data` first"
        )
    return found


def tiny_config(data_dirs, out_dir, **options) -> TrainConfig:
    """Options of a tiny training run (a quarter-size input, 32-d, 1 epoch of 2 steps, one thread);
    ``options`` change any of them."""
    tiny = dict(epochs=1, steps_per_epoch=2, input_size=SMALL_INPUT_SIZE, embedding_dim=32, writers_per_batch=4)
    return TrainConfig(data=[str(d) for d in data_dirs], out_dir=str(out_dir), threads=1, **{**tiny, **options})


def train_tiny(data_dirs, out_dir, seed: int = 0, loss: str = "triplet-semihard", name: str = "tiny") -> Path:
    """A tiny model standing in for a real version (``tiny_config``); its directory."""
    from sigverify.train import train

    config = tiny_config(data_dirs, out_dir, seed=seed, loss=loss, name=name)
    return train(config, log=lambda *_: None).model_dir
