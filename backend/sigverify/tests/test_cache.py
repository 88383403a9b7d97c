"""The preprocessed-image store: one per dataset and size, serving any subset of its images."""

import json
import os
import shutil

import numpy as np
import pytest

from sigverify import cache as cache_module
from sigverify.cache import ImageCache
from sigverify.datasets import load_dataset
from sigverify.synthetic_signatures import draw_signature

SIZE = (32, 48)


@pytest.fixture
def tree(tmp_path, folders_tree):
    """A private copy of the drawn dataset: these tests change its files."""
    return load_dataset(shutil.copytree(folders_tree, tmp_path / "data"), "folders")


@pytest.fixture
def counted(monkeypatch):
    """Counts the images actually preprocessed (the rest came from the store)."""
    calls = []
    real = cache_module.preprocess

    def preprocess(path, size):
        calls.append(path)
        return real(path, size=size)

    monkeypatch.setattr(cache_module, "preprocess", preprocess)
    return calls


def index_of(store_dir):
    (index,) = store_dir.glob("*.json")
    return json.loads(index.read_text())


def test_a_subset_is_served_from_the_whole_store(tmp_path, tree, counted):
    root, samples = tree
    store = tmp_path / "store"
    whole = ImageCache.build(samples, root, SIZE, cache_dir=store, progress=False)
    assert len(counted) == len(samples)
    subset = samples[3:9] + samples[:2]  # another order, as one split's writers
    part = ImageCache.build(subset, root, SIZE, cache_dir=store, progress=False)
    assert len(counted) == len(samples)  # nothing preprocessed again
    expected = [samples.index(s) for s in subset]
    np.testing.assert_array_equal(part.arrays, np.asarray(whole.arrays)[expected])
    assert part.valid.tolist() == whole.valid[expected].tolist()
    assert len(index_of(store)["files"]) == len(samples)  # the store still holds every image


def test_a_subset_never_replaces_the_whole_store(tmp_path, tree, counted):
    root, samples = tree
    store = tmp_path / "store"
    first, second = samples[:20], samples[20:]
    ImageCache.build(first, root, SIZE, cache_dir=store, progress=False)
    ImageCache.build(second, root, SIZE, cache_dir=store, progress=False)
    assert len(counted) == len(samples)  # each image once
    whole = ImageCache.build(samples, root, SIZE, cache_dir=store, progress=False)
    assert len(counted) == len(samples)  # merged, not rebuilt
    again = ImageCache.build(samples, root, SIZE, cache_dir=store, progress=False)
    assert isinstance(again.arrays, np.memmap)  # the exact set maps the stored array
    np.testing.assert_array_equal(again.arrays, whole.arrays)
    fresh = ImageCache.build(samples, root, SIZE, cache_dir=tmp_path / "fresh", progress=False)
    np.testing.assert_array_equal(whole.arrays, fresh.arrays)
    assert len(list(store.glob("*.npy"))) == 1  # superseded arrays are removed


def test_a_changed_file_is_preprocessed_again_and_its_old_row_dropped(tmp_path, tree, counted):
    root, samples = tree
    store = tmp_path / "store"
    before = np.asarray(ImageCache.build(samples, root, SIZE, cache_dir=store, progress=False).arrays)
    changed = samples[4]
    draw_signature(99, 1, forged=False).save(changed.path)
    stat = os.stat(changed.path)
    os.utime(changed.path, (stat.st_atime, stat.st_mtime + 10))
    counted.clear()
    after = ImageCache.build(samples, root, SIZE, cache_dir=store, progress=False)
    assert counted == [changed.path]
    assert not np.array_equal(after.arrays[4], before[4])
    np.testing.assert_array_equal(np.delete(after.arrays, 4, axis=0), np.delete(before, 4, axis=0))
    assert len(index_of(store)["files"]) == len(samples)


def test_the_index_names_its_array_and_a_store_of_the_older_layout_is_read(tmp_path, tree, counted):
    root, samples = tree
    store = tmp_path / "store"
    built = ImageCache.build(samples, root, SIZE, cache_dir=store, progress=False)
    index = index_of(store)
    assert (store / index["array"]).exists() and built.location == store / index["array"]
    # Before the index named its array, the array was pp<version>_<H>x<W>.npy beside it.
    (json_path,) = store.glob("*.json")
    legacy = json_path.with_suffix(".npy")
    os.replace(store / index.pop("array"), legacy)
    json_path.write_text(json.dumps(index))
    counted.clear()
    read = ImageCache.build(samples, root, SIZE, cache_dir=store, progress=False)
    assert counted == [] and read.location == legacy
    np.testing.assert_array_equal(read.arrays, built.arrays)


def test_a_rejected_image_stays_rejected_with_its_reason_across_merges(tmp_path, tree, counted):
    from PIL import Image

    root, samples = tree
    store = tmp_path / "store"
    blank = samples[2]
    Image.new("L", (300, 150), 255).save(blank.path)  # no ink: preprocessing rejects it
    first = ImageCache.build(samples[:10], root, SIZE, cache_dir=store, progress=False)
    assert first.valid.tolist() == [i != 2 for i in range(10)]
    relative = os.path.relpath(blank.path, root)
    reason = index_of(store)["rejected"][relative]
    assert reason
    whole = ImageCache.build(samples, root, SIZE, cache_dir=store, progress=False)  # merged, not preprocessed again
    assert counted.count(blank.path) == 1 and not whole.valid[2] and whole.valid.sum() == len(samples) - 1
    assert index_of(store)["rejected"] == {relative: reason}
