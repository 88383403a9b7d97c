from collections import Counter, defaultdict

from sigverify.datasets import load_dataset
from sigverify.pairs import (
    assign_splits,
    assign_splits_per_dataset,
    make_pairs,
    read_pairs,
    read_splits,
    write_pairs,
    write_splits,
    writer_key,
)


def test_splits_are_by_writer_and_deterministic():
    writers = [f"d/{i}" for i in range(40)]
    a = assign_splits(writers, seed=3)
    assert a == assign_splits(writers, seed=3)
    assert a != assign_splits(writers, seed=4)
    counts = Counter(a.values())
    assert counts == {"train": 25, "test": 10, "val": 5}


def test_every_dataset_is_in_every_split():
    keys = [f"cedar/{i}" for i in range(40)] + [f"gpds/{i}" for i in range(120)]
    splits = assign_splits_per_dataset(keys)
    assert {(k.split("/")[0], s) for k, s in splits.items()} == {
        (d, s) for d in ("cedar", "gpds") for s in ("train", "val", "test")
    }


def test_pairs_never_cross_splits_and_labels_are_right(tmp_path, folders_tree):
    root, samples = load_dataset(folders_tree, "folders")
    by_key = defaultdict(list)
    for s in samples:
        by_key[writer_key("syn", s.writer)].append(s)
    splits = assign_splits_per_dataset(by_key, val_fraction=0.2, test_fraction=0.2, seed=1)
    write_splits(tmp_path / "splits.csv", splits)
    assert read_splits(tmp_path / "splits.csv") == splits
    rows = make_pairs(by_key, splits, seed=1)
    write_pairs(tmp_path / "pairs.csv", rows)
    rows = read_pairs(tmp_path / "pairs.csv")
    assert rows == read_pairs(tmp_path / "pairs.csv") and rows
    label_of = {str(s.path): (s.writer, s.label) for s in samples}
    for r in rows:
        (wa, la), (wb, lb) = label_of[r["path_a"]], label_of[r["path_b"]]
        assert splits[writer_key("syn", wa)] == splits[writer_key("syn", wb)] == r["split"]
        if r["kind"] == "genuine-genuine":
            assert r["label"] == 1 and wa == wb and la == lb == "genuine"
        elif r["kind"] == "genuine-skilled":
            assert r["label"] == 0 and wa == wb and la == "genuine" and lb == "forged"
        else:
            assert r["label"] == 0 and wa != wb and la == lb == "genuine"
    labels = Counter(r["label"] for r in rows)
    assert labels[0] == labels[1]  # balanced
    assert make_pairs(by_key, splits, seed=1) == make_pairs(by_key, splits, seed=1)
