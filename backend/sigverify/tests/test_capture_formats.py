"""BHSig260's layout, duplicates, every image mode of archives, and caches kept out of input folders."""

import os
import shutil
import stat

import numpy as np
import pytest
from PIL import Image

from sigverify.cache import ImageCache, default_cache_dir
from sigverify.cli import main
from sigverify.datasets import load_dataset, read_duplicates, scan
from sigverify.errors import DatasetError
from sigverify.preprocess import preprocess
from sigverify.synthetic_signatures import draw_signature


def bilevel(writer: int, sample: int, forged: bool = False) -> Image.Image:
    """A drawn signature as a cheque archive stores it: 1-bit, black ink on white."""
    return (
        draw_signature(writer, sample, forged=forged).convert("L").point(lambda v: 255 if v > 128 else 0).convert("1")
    )


def make_bhsig(root, script="H", writers=(1, 11), n=4):
    """BHSig260 tree of 1-bit group 4 TIFFs; writer 11's files carry a zero-padded id, as in the download."""
    for w in writers:
        folder = root / str(w)
        folder.mkdir(parents=True)
        wid = f"{w:03d}" if w >= 10 else str(w)
        for i in range(1, n + 1):
            for kind, forged in (("G", False), ("F", True)):
                bilevel(w, i, forged).save(
                    folder / f"{script}-S-{wid}-{kind}-{i:02d}.tif", compression="group4", dpi=(300, 300)
                )
    return root


def test_bhsig260_layout_takes_the_writer_from_the_folder(tmp_path):
    samples = scan(make_bhsig(tmp_path), "bhsig260")
    assert {s.writer for s in samples} == {"1", "11"}
    assert sum(s.label == "forged" for s in samples) == 8
    assert [s.sample for s in samples if s.writer == "11" and s.label == "genuine"] == [1, 2, 3, 4]


def test_bhsig260_layout_errors_name_the_path(tmp_path):
    make_bhsig(tmp_path / "BHSig260" / "Hindi")
    with pytest.raises(DatasetError, match="give one script folder"):
        scan(tmp_path / "BHSig260", "bhsig260")
    bad = tmp_path / "BHSig260" / "Hindi" / "1" / "H-S-2-G-09.tif"
    bilevel(2, 9).save(bad, compression="group4")
    with pytest.raises(DatasetError, match="H-S-2-G-09.tif"):
        scan(tmp_path / "BHSig260" / "Hindi", "bhsig260")


def test_import_leaves_out_exact_duplicates_and_lists_them(tmp_path, capsys):
    src = make_bhsig(tmp_path / "Bengali", script="B")
    folder = src / "1"
    # Same bytes under another number, and the same pixels encoded differently.
    shutil.copyfile(folder / "B-S-1-G-01.tif", folder / "B-S-1-G-05.tif")
    Image.open(folder / "B-S-1-G-02.tif").save(folder / "B-S-1-G-06.tif", compression="packbits")
    # Another writer's identical image is no duplicate: duplicates are looked for inside one writer.
    shutil.copyfile(folder / "B-S-1-G-03.tif", src / "11" / "B-S-011-G-07.tif")

    dest = tmp_path / "organized" / "bengali"
    assert (
        main(
            [
                "import-data",
                "--data",
                str(src),
                "--layout",
                "bhsig260",
                "--name",
                "bengali",
                "--out",
                str(dest.parent),
                "--no-cache",
            ]
        )
        == 0
    )
    assert "exact duplicates left out: 2 images of 1 writers" in capsys.readouterr().out
    dupes = read_duplicates(dest)
    assert {(d["path"], d["same_as"]) for d in dupes} == {
        ("1/B-S-1-G-05.tif", "1/B-S-1-G-01.tif"),
        ("1/B-S-1-G-06.tif", "1/B-S-1-G-02.tif"),
    }
    _, samples = load_dataset(dest)
    genuine_1 = [s.sample for s in samples if s.writer == "1" and s.is_genuine]
    assert genuine_1 == [1, 2, 3, 4]
    assert len([s for s in samples if s.writer == "11" and s.is_genuine]) == 5
    # A raw tree read directly (evaluate --layout bhsig260) leaves the same images out.
    _, raw = load_dataset(src, "bhsig260")
    assert sorted((s.writer, s.label, s.sample) for s in raw) == sorted((s.writer, s.label, s.sample) for s in samples)


def _encodings(tmp_path):
    """One signature in every mode that occurs in the data and in cheque archives."""
    grey = draw_signature(3, 1).convert("L").point(lambda v: 255 if v > 128 else 0)
    files = {}
    files["greyscale.png"] = grey
    files["palette.png"] = grey.convert("P")
    rgba = Image.new("RGBA", grey.size, (0, 0, 0, 0))  # transparent paper, opaque black ink
    rgba.putalpha(grey.point(lambda v: 255 - v))
    files["rgba.png"] = rgba
    files["g4.tif"] = grey.convert("1")
    paths = {}
    for name, image in files.items():
        path = tmp_path / name
        kwargs = {"compression": "group4", "dpi": (200, 200)} if name.endswith(".tif") else {"dpi": (300, 300)}
        image.save(path, **kwargs)
        paths[name] = path
    return paths


def test_every_archive_image_mode_reads_the_same(tmp_path):
    paths = _encodings(tmp_path)
    assert Image.open(paths["g4.tif"]).info["compression"] == "group4"
    assert Image.open(paths["palette.png"]).mode == "P" and Image.open(paths["rgba.png"]).mode == "RGBA"
    arrays = {name: preprocess(path, size=(128, 192)).astype(int) for name, path in paths.items()}
    reference = arrays.pop("greyscale.png")
    assert reference.max() > 200
    for name, array in arrays.items():
        assert np.abs(array - reference).max() <= 1, name


def _snapshot(root):
    return sorted((str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*"))


def test_evaluate_never_writes_inside_the_dataset(tmp_path, monkeypatch, tiny_model_dir):
    """The bug: evaluate wrote <dataset>/cache, and the next gpds evaluate failed on that folder."""
    from sigverify.tests.test_datasets import make_gpds

    src = make_gpds(tmp_path / "gpds", writers=(1, 2, 3), n=7)
    monkeypatch.setenv("SIGVERIFY_CACHE", str(tmp_path / "caches"))
    before = _snapshot(src)
    for path in [src, *src.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        for _ in range(2):  # the second run failed before the fix
            assert (
                main(
                    [
                        "evaluate",
                        "--data",
                        str(src),
                        "--layout",
                        "gpds",
                        "--model",
                        str(tiny_model_dir),
                        "-R",
                        "3",
                        "--json",
                        str(tmp_path / "e.json"),
                    ]
                )
                == 0
            )
    finally:
        for path in [src, *src.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    assert _snapshot(src) == before
    stored = list((tmp_path / "caches").rglob("*.npy"))
    assert len(stored) == 1 and stored[0].parent == default_cache_dir(src)


def test_cache_follows_the_dataset_content(tmp_path, monkeypatch, folders_tree):
    monkeypatch.setenv("SIGVERIFY_CACHE", str(tmp_path / "caches"))
    copy = tmp_path / "copy"
    shutil.copytree(folders_tree, copy)
    root, samples = load_dataset(copy, "folders")
    first = ImageCache.build(samples, root, (32, 48), progress=False)
    assert first.location.is_relative_to(tmp_path / "caches")
    replaced = samples[0].path
    draw_signature(40, 1).save(replaced)  # other content under the same name
    os.utime(replaced, (1, 1))
    second = ImageCache.build(samples, root, (32, 48), progress=False)
    assert not np.array_equal(first.arrays[0], second.arrays[0]) or not isinstance(second.arrays, np.memmap)
    assert np.array_equal(second.arrays[0], preprocess(replaced, size=(32, 48)))


def test_decisions_in_the_evaluation_json(tmp_path, tiny_model_dir, folders_tree):
    import json

    assert (
        main(
            [
                "evaluate",
                "--data",
                str(folders_tree),
                "--model",
                str(tiny_model_dir),
                "-R",
                "3",
                "--json",
                str(tmp_path / "e.json"),
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "e.json").read_text())
    d = report["decisions"]
    assert set(d) >= {
        "accept",
        "reject",
        "far_skilled_at_accept",
        "far_random_at_accept",
        "frr_at_reject",
        "referred",
        "automated",
    }
    assert d["accept"] >= d["reject"]
    assert d["referred"] + d["automated"] == pytest.approx(1.0)
    for key in ("far_skilled_at_accept", "far_random_at_accept", "frr_at_reject", "referred"):
        assert 0.0 <= d[key] <= 1.0


def test_decision_rates_count_each_query_once():
    from sigverify.evaluate import ProtocolScores, decision_rates
    from sigverify.scoring import ScoreModel

    class Identity(ScoreModel):
        def calibrate(self, z, references=None, margins=None):
            return np.asarray(z, dtype=float)

    ps = ProtocolScores(references=1)
    ps.genuine["a"] = [0.9, 0.8, 0.5, 0.1]
    ps.skilled["a"] = [0.95, 0.4, 0.3, 0.2]
    ps.random["a"] = [0.05, 0.05]
    d = decision_rates(ps, Identity(), accept=0.85, reject=0.35)
    assert d["far_skilled_at_accept"] == 0.25  # 0.95
    assert d["far_random_at_accept"] == 0.0
    assert d["frr_at_reject"] == 0.25  # 0.1
    assert d["referred"] == pytest.approx(3 / 10)  # genuine 0.8 and 0.5, skilled 0.4
    assert d["referred_by_kind"] == {"genuine": 0.5, "skilled": 0.25, "random": 0.0}
    assert d["referred_questioned"] == pytest.approx(3 / 8)  # random queries left out


def test_evaluate_can_simulate_a_cheque_archive_capture(tmp_path, tiny_model_dir, folders_tree):
    import json

    from sigverify.captures import as_bilevel, half_resolution

    image = draw_signature(5, 2).convert("L")
    bi = as_bilevel(image)
    assert bi.mode == "1" and set(np.unique(np.asarray(bi.convert("L")))) <= {0, 255}
    assert half_resolution(image).size == (image.width // 2, image.height // 2)
    assert (
        main(
            [
                "evaluate",
                "--data",
                str(folders_tree),
                "--model",
                str(tiny_model_dir),
                "-R",
                "3",
                "--capture",
                "bilevel",
                "--json",
                str(tmp_path / "b.json"),
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "b.json").read_text())
    assert report["capture"] == "bilevel" and report["writers"] == 6
