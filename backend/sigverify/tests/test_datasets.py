import csv

import pytest

from sigverify.cache import ImageCache
from sigverify.datasets import import_dataset, load_dataset, read_manifest, sample_number, scan
from sigverify.errors import DatasetError
from sigverify.synthetic_signatures import draw_signature


def make_cedar(root, writers=(1, 2), n=3):
    for sub, prefix in (("full_org", "original"), ("full_forg", "forgeries")):
        (root / sub).mkdir(parents=True)
        for w in writers:
            for i in range(1, n + 1):
                draw_signature(w, i, forged=prefix == "forgeries").save(root / sub / f"{prefix}_{w}_{i}.png")
    return root


def make_gpds(root, writers=(1, 12), n=3):
    for w in writers:
        folder = root / f"{w:03d}"
        folder.mkdir(parents=True)
        for i in range(1, n + 1):
            draw_signature(w, i).save(folder / f"c-{w:03d}-{i:02d}.jpg")
            draw_signature(w, i, forged=True).save(folder / f"cf-{w:03d}-{i:02d}.jpg")
    return root


def test_cedar_layout(tmp_path):
    samples = scan(make_cedar(tmp_path), "cedar")
    assert len(samples) == 12
    assert {(s.writer, s.label) for s in samples} == {
        ("1", "genuine"),
        ("1", "forged"),
        ("2", "genuine"),
        ("2", "forged"),
    }
    first = samples[0]
    assert first.writer == "1" and first.label == "genuine" and first.sample == 1


def test_gpds_layout(tmp_path):
    samples = scan(make_gpds(tmp_path), "gpds")
    assert {s.writer for s in samples} == {"1", "12"}
    assert sum(s.label == "forged" for s in samples) == 6


def test_folders_layout_orders_by_last_number(folders_tree):
    samples = scan(folders_tree, "folders")
    assert len(samples) == 6 * 10
    w1 = [s.sample for s in samples if s.writer == "w01" and s.label == "genuine"]
    assert w1 == sorted(w1) == list(range(1, 8))
    assert sample_number("scan-2024_v3_sig12.png") == 12


@pytest.mark.parametrize(
    "breakage,needle",
    [
        (lambda r: (r / "full_org" / "original_1_x.png").write_bytes(b"x"), "original_1_x.png"),
        (lambda r: (r / "full_org" / "forgeries_1_9.png").write_bytes(b"x"), "forgeries_1_9.png"),
    ],
)
def test_broken_cedar_tree_names_the_path(tmp_path, breakage, needle):
    root = make_cedar(tmp_path)
    breakage(root)
    with pytest.raises(DatasetError, match=needle):
        scan(root, "cedar")


def test_broken_trees(tmp_path):
    with pytest.raises(DatasetError, match="full_forg"):
        (tmp_path / "a" / "full_org").mkdir(parents=True)
        scan(tmp_path / "a", "cedar")
    g = make_gpds(tmp_path / "g")
    draw_signature(1).save(g / "001" / "c-002-01.jpg")
    with pytest.raises(DatasetError, match="c-002-01.jpg"):
        scan(g, "gpds")
    with pytest.raises(DatasetError, match="does not exist"):
        scan(tmp_path / "missing", "folders")
    f = tmp_path / "f" / "w1" / "forged"
    f.mkdir(parents=True)
    with pytest.raises(DatasetError, match="genuine"):
        scan(tmp_path / "f", "folders")


def test_import_is_idempotent_and_writes_manifest(tmp_path):
    src = make_gpds(tmp_path / "src")
    dest = tmp_path / "organized" / "gpds"
    first = import_dataset(src, "gpds", dest)
    manifest = (dest / "manifest.csv").read_text()
    mtimes = {p: p.stat().st_mtime_ns for p in dest.rglob("*.jpg")}
    second = import_dataset(src, "gpds", dest)
    assert first == second
    assert (dest / "manifest.csv").read_text() == manifest
    assert {p: p.stat().st_mtime_ns for p in dest.rglob("*.jpg")} == mtimes  # nothing copied again
    rows = list(csv.DictReader(open(dest / "manifest.csv")))
    assert rows[0].keys() == {"path", "writer", "label", "sample"}
    assert all((dest / r["path"]).exists() for r in rows)
    assert {r["label"] for r in rows} == {"genuine", "forged"}
    root, absolute = load_dataset(dest)
    assert len(absolute) == 12 and all(s.path.is_absolute() for s in absolute)
    assert read_manifest(dest)[0].path.parts[1] == "genuine"


def test_cache_is_reused_and_keyed_by_size(tmp_path, folders_tree):
    root, samples = load_dataset(folders_tree, "folders")
    cache = ImageCache.build(samples, root, (32, 48), cache_dir=tmp_path, progress=False)
    assert cache.arrays.shape == (len(samples), 32, 48) and cache.valid.all()
    files = sorted(p.name for p in tmp_path.iterdir())
    again = ImageCache.build(samples, root, (32, 48), cache_dir=tmp_path, progress=False)
    assert isinstance(again.arrays, __import__("numpy").memmap)  # read back, not rebuilt
    ImageCache.build(samples, root, (40, 60), cache_dir=tmp_path, progress=False)
    assert len(list(tmp_path.iterdir())) == len(files) + 2
