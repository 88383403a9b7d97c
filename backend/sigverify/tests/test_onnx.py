"""ONNX export and the inference runtimes: same embeddings as PyTorch, refused when altered, chosen by mode."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sigverify.card import CARD_FILE, ModelCard
from sigverify.errors import ModelLoadError
from sigverify.inference import Verifier
from sigverify.onnx_export import ONNX_FILE, ONNX_INT8_FILE, compare, export_onnx
from sigverify.runtime import cpu_flags as _real_cpu_flags
from sigverify.runtime import onnx_choice
from testsupport.synthetic_data import signature_bytes
from testsupport.tiny_model import write_tiny_model, write_tiny_onnx_model

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def onnx_model_dir(tmp_path_factory):
    return write_tiny_onnx_model(tmp_path_factory.mktemp("tiny-onnx"), int8=True)


@pytest.fixture(autouse=True)
def cpu_without_vnni(monkeypatch):
    """``auto`` reads the CPU's flags: these tests run as on an AVX2 CPU without VNNI, on any machine."""
    from sigverify import runtime

    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"sse4_2", "avx2", "fma"})


def _arrays(verifier, n=6):
    return [verifier.preprocess(signature_bytes(w, s))[0] for w in (1, 2, 3) for s in range(n // 3)]


def test_export_round_trip_gives_pytorchs_embeddings_and_records_the_files(onnx_model_dir):
    card = ModelCard.read(onnx_model_dir)
    fp32 = card.onnx.fp32
    assert fp32.file == ONNX_FILE and fp32.usable and fp32.weights_sha256 == card.sha256
    assert fp32.check.max_abs_diff <= 1e-4
    torch_path = Verifier.from_dir(onnx_model_dir, inference="torch")
    onnx_path = Verifier.from_dir(onnx_model_dir, inference="onnx")
    assert (torch_path.inference_path, onnx_path.inference_path) == ("torch-fp32", "onnx-fp32")
    arrays = _arrays(torch_path, 9)
    a, b = torch_path.embed_arrays(arrays), onnx_path.embed_arrays(arrays)
    assert a.shape == b.shape == (9, card.embedding_dim)
    assert np.abs(a - b).max() < 1e-4
    # a batch of one and an empty batch go through the dynamic batch axis too
    assert np.abs(onnx_path.embed_arrays(arrays[:1]) - a[:1]).max() < 1e-4
    assert onnx_path.embed_arrays([]).shape == (0, card.embedding_dim)


def test_int8_embeddings_are_close_but_not_the_same(onnx_model_dir):
    fp32 = Verifier.from_dir(onnx_model_dir, inference="onnx")
    int8 = Verifier.from_dir(onnx_model_dir, inference="onnx-int8")
    assert int8.inference_path == "onnx-int8" and int8.precision == "int8"
    arrays = _arrays(fp32, 6)
    a, b = fp32.embed_arrays(arrays), int8.embed_arrays(arrays)
    assert (a * b).sum(axis=1).min() > 0.9  # unit vectors pointing the same way
    assert np.abs(a - b).max() > 1e-6  # really another computation


def test_a_file_whose_sha256_differs_is_refused_with_a_clear_error(onnx_model_dir, tmp_path):
    import shutil

    altered = tmp_path / "altered"
    shutil.copytree(onnx_model_dir, altered)
    data = bytearray((altered / ONNX_FILE).read_bytes())
    data[-1] ^= 1
    (altered / ONNX_FILE).write_bytes(bytes(data))
    for mode in ("auto", "onnx"):
        with pytest.raises(ModelLoadError, match="sha256 mismatch for ONNX file .*refusing to load"):
            Verifier.from_dir(altered, inference=mode)
    assert Verifier.from_dir(altered, inference="torch").inference_path == "torch-fp32"


def test_an_onnx_file_of_other_weights_is_refused(onnx_model_dir, tmp_path):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(onnx_model_dir, other)
    card = json.loads((other / CARD_FILE).read_text())
    card["onnx"]["fp32"]["weights_sha256"] = "0" * 64
    (other / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match="exported from weights 000000000000"):
        Verifier.from_dir(other, inference="onnx")


def test_without_onnx_files_every_mode_serves_through_pytorch(tiny_model_dir):
    for mode in ("auto", "onnx", "onnx-int8", "torch"):
        verifier = Verifier.from_dir(tiny_model_dir, inference=mode)
        assert verifier.inference_path == "torch-fp32"
    assert "no ONNX file" in Verifier.from_dir(tiny_model_dir, inference="auto").inference_reason


def test_modes_choose_the_file_the_card_allows(onnx_model_dir):
    card = ModelCard.read(onnx_model_dir)
    assert onnx_choice(card, "auto")[0] == "fp32"
    assert onnx_choice(card, "onnx-int8")[0] == "int8"
    assert onnx_choice(card, "torch")[0] is None
    unchecked = card.model_copy(deep=True)
    unchecked.onnx.int8.usable = False
    unchecked.onnx.fp32.usable = False
    assert onnx_choice(unchecked, "onnx-int8")[0] == "fp32"  # int8 not passed: fp32, asked for explicitly
    assert onnx_choice(unchecked, "auto")[0] is None  # auto takes only a checked file
    with pytest.raises(ValueError, match="inference mode must be one of"):
        onnx_choice(card, "tensorrt")


AVX2 = {"sse4_2", "avx", "avx2", "fma"}


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (AVX2, "fp32"),  # AVX2 only: int8 is no faster there, the fp32 file serves
        (AVX2 | {"avx512f", "avx512bw"}, "fp32"),  # AVX-512 without VNNI
        (AVX2 | {"avx512f", "avx512_vnni"}, "int8"),
        (AVX2 | {"avx_vnni"}, "int8"),  # VNNI on AVX2 registers (Alder Lake, Zen 5 client)
        (AVX2 | {"avx512_vnni", "amx_int8", "amx_tile"}, "int8"),
    ],
)
def test_auto_serves_the_int8_file_only_on_a_cpu_with_fast_int8(onnx_model_dir, flags, expected):
    card = ModelCard.read(onnx_model_dir)
    kind, reason = onnx_choice(card, "auto", flags=flags)
    assert kind == expected
    assert ("VNNI" in reason) == (expected == "fp32")  # the reason says why the int8 file is left out


def test_auto_never_serves_an_int8_file_that_failed_its_check(onnx_model_dir):
    vnni = AVX2 | {"avx512_vnni"}
    failed = ModelCard.read(onnx_model_dir).model_copy(deep=True)
    failed.onnx.int8.usable = False
    assert onnx_choice(failed, "auto", flags=vnni) == ("fp32", "checked ONNX fp32 file")
    no_int8 = ModelCard.read(onnx_model_dir).model_copy(deep=True)
    no_int8.onnx.int8 = None
    assert onnx_choice(no_int8, "auto", flags=vnni)[0] == "fp32"
    # explicit modes ignore the CPU: onnx is fp32 even with VNNI, onnx-int8 is int8 even without
    card = ModelCard.read(onnx_model_dir)
    assert onnx_choice(card, "onnx", flags=vnni)[0] == "fp32"
    assert onnx_choice(card, "onnx-int8", flags=AVX2)[0] == "int8"


def test_auto_serves_pytorch_when_onnxruntime_is_missing_even_with_vnni(onnx_model_dir, monkeypatch):
    from sigverify import runtime

    monkeypatch.setattr(runtime, "onnxruntime_available", lambda: False)
    card = ModelCard.read(onnx_model_dir)
    assert onnx_choice(card, "auto", flags=AVX2 | {"avx512_vnni"}) == (None, "onnxruntime is not installed")


def test_the_loader_takes_the_cpu_flags_of_the_machine_it_runs_on(onnx_model_dir, monkeypatch):
    from sigverify import runtime

    monkeypatch.setattr(runtime, "cpu_flags", lambda: AVX2 | {"avx512_vnni"})
    verifier = Verifier.from_dir(onnx_model_dir, inference="auto")
    assert verifier.inference_path == "onnx-int8" and "avx512_vnni" in verifier.inference_reason
    monkeypatch.setattr(runtime, "cpu_flags", lambda: AVX2)
    assert Verifier.from_dir(onnx_model_dir, inference="auto").inference_path == "onnx-fp32"


def test_cpu_flags_are_read_from_cpuinfo(tmp_path, monkeypatch):
    from sigverify import runtime

    real = _real_cpu_flags  # the autouse fixture replaced runtime.cpu_flags; this is the function itself
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 fma avx512f avx512_vnni\n\n"
        "processor\t: 1\nflags\t\t: fpu sse2 avx2 fma avx512f avx512_vnni\n"
    )
    monkeypatch.setattr(runtime, "CPUINFO", cpuinfo)
    assert real() == {"fpu", "sse2", "avx2", "fma", "avx512f", "avx512_vnni"}
    assert runtime.fast_int8_flags(real()) == ["avx512_vnni"]
    monkeypatch.setattr(runtime, "CPUINFO", tmp_path / "missing")  # not Linux: no flags, so no int8
    assert real() == set()
    assert runtime.fast_int8_flags(set()) == []


def test_the_session_is_made_on_first_use_with_the_thread_limit(onnx_model_dir, monkeypatch):
    from sigverify import runtime

    made = []
    real = runtime.make_session
    monkeypatch.setattr(runtime, "make_session", lambda model, threads: made.append(threads) or real(model, threads))
    monkeypatch.setattr(runtime, "_thread_limit", None)
    runtime.set_thread_limit(1)
    verifier = Verifier.from_dir(onnx_model_dir, inference="onnx")
    assert made == []  # loading checks the file; the session is made by the process that embeds
    verifier.embed_arrays(_arrays(verifier, 3))
    verifier.embed_arrays(_arrays(verifier, 3))
    assert made == [1]


def test_export_with_data_checks_per_dataset_and_marks_int8_by_its_check(folders_tree, tmp_path, monkeypatch):
    from sigverify.datasets import import_dataset
    from sigverify.pairs import write_splits

    data = tmp_path / "organized" / "synth"
    import_dataset(folders_tree, "folders", data)
    writers = sorted(p.name for p in folders_tree.iterdir() if p.is_dir())
    split_file = tmp_path / "splits.csv"
    write_splits(split_file, {f"synth/{w}": ("train" if i < 3 else "test") for i, w in enumerate(writers)})
    model_dir = write_tiny_model(tmp_path / "model")
    card = export_onnx(model_dir, datasets=[data], split_file=split_file, int8=True, log=lambda *_: None)
    fp32, int8 = card.onnx.fp32, card.onnx.int8
    assert (model_dir / ONNX_FILE).is_file() and (model_dir / ONNX_INT8_FILE).is_file()
    assert not list(model_dir.glob("*.part"))
    assert set(fp32.check.datasets) == set(int8.check.datasets) == {"synth"}
    result = int8.check.datasets["synth"]
    assert result.references == 5 and result.queries > 0
    assert int8.quantization.calibration == "minmax" and int8.quantization.calibration_writers == 3
    kept = int8.quantization.nodes_excluded  # the first conv, the first stage and the head stay fp32
    assert "/backbone/conv1/Conv" in kept and "/head/Gemm" in kept
    assert any(name.startswith("/backbone/layer1/") for name in kept)
    within = abs(result.eer_change_points) <= 0.3 and result.decisions_changed <= 0.005
    assert int8.usable == int8.check.passed == within
    assert fp32.usable and fp32.check.datasets["synth"].decisions_changed == 0.0
    assert ModelCard.read(model_dir).onnx == card.onnx  # what was returned is what was written

    # Exported again (e.g. to add or redo the int8 file): the same fp32 bytes, so its check stands
    # unrecomputed; a card whose fp32 check ran on other datasets gets a new one.
    from sigverify import onnx_export

    checked = []
    real_compare = onnx_export.compare
    monkeypatch.setattr(onnx_export, "compare", lambda *a, **k: checked.append(1) or real_compare(*a, **k))
    again = export_onnx(model_dir, datasets=[data], split_file=split_file, int8=True, log=lambda *_: None)
    assert len(checked) == 1  # the int8 file only
    assert again.onnx.fp32 == fp32
    stale = ModelCard.read(model_dir)
    stale.onnx.fp32.check.datasets = {"other": stale.onnx.fp32.check.datasets["synth"]}
    stale.write(model_dir)
    checked.clear()
    export_onnx(model_dir, datasets=[data], split_file=split_file, log=lambda *_: None)
    assert len(checked) == 1 and set(ModelCard.read(model_dir).onnx.fp32.check.datasets) == {"synth"}


def test_compare_fails_a_path_that_changes_decisions(onnx_model_dir, tmp_path):
    """The check itself: embeddings that move decisions fail it, the same embeddings pass it."""
    from sigverify import evaluate as ev
    from sigverify.onnx_export import CheckData

    card = ModelCard.read(onnx_model_dir)
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(40, card.embedding_dim)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    writers = [f"w{i // 10}" for i in range(40)]
    labels = ["genuine" if i % 10 < 8 else "forged" for i in range(40)]
    data = CheckData(groups={"d": ev.group_by_writer(writers, labels, list(range(40)))}, torch={"d": emb})
    assert compare({"d": emb.copy()}, data, card).passed
    shuffled = emb[rng.permutation(40)]
    check = compare({"d": shuffled}, data, card)
    assert not check.passed and check.datasets["d"].decisions_changed > 0.005
