"""The typed model card: today's shipped card reads, round-trips, and keeps validation apart from test."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from sigverify.card import CardError, ModelCard
from sigverify.errors import ModelLoadError

SHIPPED = Path(__file__).resolve().parents[3] / "trained_model_parameters"


def minimal(**change) -> dict:
    return {
        "name": "m",
        "input_size": [32, 48],
        "embedding_dim": 16,
        "preprocess_version": "3",
        "sha256": "ab" * 32,
        "thresholds": {"eer": 0.5, "accept": 0.6, "reject": 0.4},
        **change,
    }


def test_shipped_card_reads_and_writes_back_unchanged(tmp_path):
    on_disk = json.loads((SHIPPED / "model_card.json").read_text())
    card = ModelCard.read(SHIPPED)
    assert card.to_dict() == on_disk
    card.write(tmp_path)
    assert json.loads((tmp_path / "model_card.json").read_text()) == on_disk
    assert not (tmp_path / "model_card.json.part").exists()


def test_shipped_card_keeps_validation_and_held_out_test_figures_apart():
    metrics = ModelCard.read(SHIPPED).metrics
    assert [(f.split, f.dataset, f.references) for f in metrics.validation_figures()] == [
        ("validation", None, 1),
        ("validation", None, 5),
    ]
    datasets = ["bengali", "cedar", "gpds", "hindi"]
    assert [(f.split, f.dataset, f.references) for f in metrics.test_figures()] == [
        ("test", d, r) for d in datasets for r in (1, 2, 3, 5, 10)
    ]
    # Operating points per R, the top-level pair being R=5's.
    card = ModelCard.read(SHIPPED)
    assert sorted(card.thresholds.by_references, key=int) == ["1", "2", "3", "4", "5", "6", "8", "10", "12"]
    assert card.thresholds_at(5).accept == card.thresholds.accept
    for row in metrics.test_figures():
        pair = card.thresholds_at(row.references)
        assert (row.evaluation.decisions.accept, row.evaluation.decisions.reject) == (pair.accept, pair.reject)
    assert metrics.test_datasets == datasets
    assert metrics.test_at("gpds", 5).writers == 30 and metrics.test_at("gpds", 5).references == 5
    assert metrics.validation_at(5).writers == 45  # every dataset's validation writers, pooled
    assert metrics.test_at("gpds", 5).skilled.eer != metrics.validation_at(5).skilled.eer
    assert metrics.held_out_split.split == "test"


def test_defaults_fill_what_a_minimal_card_leaves_out_but_are_not_written():
    card = ModelCard.parse(minimal())
    assert card.size == (32, 48) and card.weights_file == "model.safetensors"
    assert card.metrics.validation_figures() == [] and card.metrics.test_figures() == []
    assert card.to_dict() == minimal()


@pytest.mark.parametrize("field", ["input_size", "embedding_dim", "preprocess_version", "sha256", "thresholds"])
def test_a_card_without_what_serving_needs_is_refused_not_defaulted(field):
    data = minimal()
    del data[field]
    with pytest.raises(CardError, match=f"{field}: Field required"):
        ModelCard.parse(data, source="test card")


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"thresholds": {"eer": 0.5}}, "thresholds.accept: Field required"),
        ({"metrics": {"validation": {"cedar_R5": {}}}}, 'should look like "R<references>"'),
        ({"metrics": {"held_out": {"cedar_R5": {"references": 1}}}}, "holds figures for R=1"),
        (
            {"metrics": {"held_out": {"cedar_R5": {"skilled": {"err": 0.1}}}}},
            "skilled.err: Extra inputs are not permitted",
        ),
        ({"metrics": {"eer": 0.1}}, "metrics.eer: Extra inputs are not permitted"),
        ({"input_size": [1, 2, 3]}, "input_size"),
    ],
)
def test_a_card_that_does_not_fit_says_where(change, problem):
    with pytest.raises(CardError) as caught:
        ModelCard.parse(minimal(**change), source="test card")
    assert str(caught.value).startswith("test card is not valid: ") and problem in str(caught.value)
    assert isinstance(caught.value, ModelLoadError)  # callers that refuse a broken model catch this


def test_unknown_sections_and_recipe_options_are_kept():
    card = ModelCard.parse(
        minimal(recipe={"lr": 0.001, "history": [{"epoch": 1, "loss": 0.5, "val_eer_random": 0.2}]}, notes="kept")
    )
    assert card.recipe.history[0].epoch == 1 and card.to_dict()["recipe"]["lr"] == 0.001
    assert card.to_dict()["notes"] == "kept"


def test_nan_figures_are_written_as_null(tmp_path):
    card = ModelCard.parse(minimal(metrics={"validation": {"R1": {"random": {"eer": math.nan}}}}))
    card.write(tmp_path)
    text = (tmp_path / "model_card.json").read_text()
    assert "NaN" not in text and json.loads(text)["metrics"]["validation"]["R1"]["random"]["eer"] is None


def test_missing_or_broken_card_file(tmp_path):
    with pytest.raises(CardError, match="no model card"):
        ModelCard.read(tmp_path)
    (tmp_path / "model_card.json").write_text("{not json")
    with pytest.raises(CardError, match="not valid JSON"):
        ModelCard.read(tmp_path)


def test_card_module_imports_neither_torch_nor_django():
    code = "import sys, sigverify.card; print(sorted(m for m in ('torch', 'django') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "[]"


def test_model_card_md_lists_an_onnx_files_check_per_dataset():
    from sigverify.card import OnnxCheck, OnnxDatasetCheck, OnnxFile, OnnxFiles, OnnxQuantization
    from sigverify.card_markdown import render_markdown

    card = ModelCard.parse(minimal())
    check = OnnxCheck(
        passed=False,
        min_cosine=0.97,
        images=300,
        split="test",
        max_eer_change_points=0.3,
        max_decisions_changed=0.005,
        datasets={
            "cedar": OnnxDatasetCheck(
                references=5,
                queries=120,
                skilled_eer_torch=0.1,
                skilled_eer_onnx=0.104,
                eer_change_points=0.4,
                decisions_changed=0.0125,
            ),
            "gpds": OnnxDatasetCheck(references=5, queries=180, eer_change_points=None, decisions_changed=0.0),
        },
    )
    quantization = OnnxQuantization(
        calibration="minmax", calibration_images=64, calibration_writers=8, per_channel=True
    )
    card.onnx = OnnxFiles(int8=OnnxFile(file="model.int8.onnx", sha256="cd" * 32, usable=False, check=check))
    card.onnx.int8.quantization = quantization
    text = render_markdown(card)
    assert "| `model.int8.onnx` | `cdcdcdcdcdcdcdcd...` | no |" in text
    assert "| cedar | 5 | 120 | 10.00% | 10.40% | +0.40 | 1.25% |" in text
    assert "| gpds | 5 | 180 | n/a | n/a | n/a | 0.00% |" in text  # a figure not measured is said so
    assert "minmax ranges from 64 images of 8 training writers" in text
