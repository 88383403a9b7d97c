import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sigverify import cli
from sigverify.card import ModelCard
from sigverify.errors import ModelLoadError
from sigverify.inference import Verifier
from sigverify.report import run_evaluation
from sigverify.scoring import REFERENCE_BUCKETS
from sigverify.synthetic_signatures import draw_signature
from sigverify.train import TrainingCancelled, train
from sigverify.weights import load_model
from testsupport import small_settings
from testsupport.synthetic_data import png_bytes

SIZE = (32, 48)
REPORT_KEYS = {
    "writers",
    "references",
    "genuine_queries",
    "skilled_queries",
    "random_queries",
    "skilled",
    "random",
    "user_threshold_eer_skilled",
    "threshold",
    "at_threshold",
    "model_sha256",
}


def tiny_config(data, out, **kw):
    smaller = dict(input_size=SIZE, embedding_dim=16, writers_per_batch=3, genuine_per_writer=2, forged_per_writer=1)
    split = dict(val_fraction=0.2, test_fraction=0.2, seed=0, precision="fp32")
    return small_settings.tiny_config([data], out, **{**smaller, **split, **kw})


@pytest.fixture(scope="module")
def trained(tmp_path_factory, folders_tree):
    out = tmp_path_factory.mktemp("run")
    seen = []
    result = train(tiny_config(folders_tree, out), progress=seen.append, log=lambda m: None)
    return out, result, seen


def test_training_writes_a_calibrated_model_dir(trained):
    out, result, seen = trained
    assert seen and seen[0]["epoch"] == 1 and {"loss", "val_eer", "images_per_s"} <= seen[0].keys()
    card = result.card.to_dict()
    assert (result.model_dir / "model.safetensors").exists() and not list(out.rglob("*.part"))
    assert card["input_size"] == list(SIZE) and card["embedding_dim"] == 16
    assert ModelCard.parse(card).metrics.validation_figures()  # the trainer writes a valid typed card
    assert {"eer", "accept", "reject"} <= card["thresholds"].keys()
    assert card["thresholds"]["reject"] <= card["thresholds"]["accept"]
    assert len(card["sha256"]) == 64 and card["recipe"]["epochs_run"] == 1
    splits = card["data"]["writers"]
    assert not set(splits["train"]) & set(splits.get("val", [])) and splits.get("val")
    model, loaded = load_model(result.model_dir)
    assert loaded.sha256 == card["sha256"]


def test_writer_classes_give_each_writers_forgeries_a_class_of_their_own():
    import torch

    from sigverify.train import writer_classes

    writers = torch.tensor([0, 0, 1, 2, 2])
    forged = torch.tensor([False, True, False, False, True])
    classes, members = writer_classes(writers, forged, num_writers=3, forgery_classes=False)
    assert members.tolist() == [True, False, True, True, False]  # plain: genuine only
    assert classes[members].tolist() == [0, 1, 2]
    classes, members = writer_classes(writers, forged, num_writers=3, forgery_classes=True)
    assert members.all() and classes.tolist() == [0, 3, 1, 2, 5]


def test_training_with_forgery_classes_runs_and_records_the_recipe(folders_tree, tmp_path):
    result = train(tiny_config(folders_tree, tmp_path, forgery_classes=True), log=lambda m: None)
    assert result.card.recipe.forgery_classes is True
    assert np.isfinite(result.history[0]["loss"])


def test_ema_weights_are_validated_and_shipped_and_survive_resume(folders_tree, tmp_path):
    import torch
    from safetensors.torch import load_file

    train(tiny_config(folders_tree, tmp_path, ema_decay=0.5), log=lambda m: None)
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    ema = {k.removeprefix("module."): v for k, v in saved["ema"].items() if k.startswith("module.")}
    shipped = load_file(str(tmp_path / "model" / "model.safetensors"))
    name = "backbone.conv1.weight"
    assert torch.allclose(shipped[name], ema[name].float())
    assert not torch.allclose(shipped[name], saved["model"][name].float())  # the average, not the last step
    again = train(tiny_config(folders_tree, tmp_path, ema_decay=0.5, epochs=2, resume=True), log=lambda m: None)
    assert [h["epoch"] for h in again.history] == [1, 2] and again.card.recipe.ema_decay == 0.5


def test_ema_decay_outside_0_1_is_refused(folders_tree, tmp_path):
    with pytest.raises(ValueError, match="ema_decay"):  # pydantic's ValidationError is a ValueError
        tiny_config(folders_tree, tmp_path, ema_decay=1.0)


def test_resume_continues_from_the_checkpoint(trained, folders_tree, tmp_path):
    import shutil

    out = shutil.copytree(trained[0], tmp_path / "run")  # leave the shared run untouched
    again = train(tiny_config(folders_tree, out, epochs=2, resume=True), log=lambda m: None)
    assert [h["epoch"] for h in again.history] == [1, 2]


def test_checkpoint_keeps_the_format_a_resumed_run_reads(trained):
    import torch

    saved = torch.load(trained[0] / "checkpoint.pt", weights_only=True)
    assert set(saved) == {"model", "heads", "optimizer", "scheduler", "state"}  # + "ema" with --ema-decay
    assert set(json.loads(saved["state"])) == {"epoch", "best_eer", "best_epoch", "bad_epochs", "history"}


def test_batches_are_p_writers_by_k_genuine_and_f_forged_through_a_dataloader(folders_tree, tmp_path):
    import random

    import torch
    from torch.utils.data import DataLoader, Sampler

    from sigverify.train import WriterBatchSampler, _load_pool, train_loader

    config = tiny_config(folders_tree, tmp_path)
    pool = _load_pool(config, log=lambda m: None)
    train_idx = [i for i, s in enumerate(pool.split) if s == "train"]
    writers = sorted({pool.writers[i] for i in train_idx})

    def sampler(seed):
        return WriterBatchSampler(pool, train_idx, config, steps=4, rng=random.Random(seed))

    drawn = list(sampler(0))
    assert isinstance(sampler(0), Sampler) and len(drawn) == 4 and drawn == list(sampler(0)) != list(sampler(1))
    for batch in drawn:
        by_writer = {}
        for i in batch:
            by_writer.setdefault(pool.writers[i], []).append(bool(pool.forged[i]))
        assert len(by_writer) == config.writers_per_batch
        assert all(flags.count(False) == config.genuine_per_writer for flags in by_writer.values())
        assert all(flags.count(True) in (0, config.forged_per_writer) for flags in by_writer.values())
    loader = train_loader(pool, sampler(0), {w: k for k, w in enumerate(writers)})
    assert isinstance(loader, DataLoader) and len(loader) == 4
    before = torch.get_rng_state()
    x, writer_classes_, forged = next(iter(loader))
    assert torch.equal(torch.get_rng_state(), before)  # augmentation's random stream is untouched
    assert x.shape == (len(drawn[0]), 1, *SIZE) and 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert writer_classes_.tolist() == [writers.index(pool.writers[i]) for i in drawn[0]]
    assert forged.tolist() == [bool(pool.forged[i]) for i in drawn[0]]


def test_cancel_stops_the_run(tmp_path, folders_tree):
    with pytest.raises(TrainingCancelled):
        train(tiny_config(folders_tree, tmp_path), should_stop=lambda: True, log=lambda m: None)


def test_tampered_weights_are_refused(tmp_path, trained):
    _, result, _ = trained
    copy = tmp_path / "model"
    copy.mkdir()
    for f in result.model_dir.iterdir():
        copy.joinpath(f.name).write_bytes(f.read_bytes())
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-10] ^= 0xFF
    (copy / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="sha256 mismatch"):
        Verifier.from_dir(copy)


def test_verifier_embeds_scores_and_decides(trained):
    v = Verifier.from_dir(trained[1].model_dir)
    refs = v.embed_arrays([v.preprocess(png_bytes(draw_signature(1, i)))[0] for i in range(3)])
    assert refs.shape == (3, 16) and np.allclose(np.linalg.norm(refs, axis=1), 1, atol=1e-4)
    emb, array, quality = v.embed(png_bytes(draw_signature(1, 9)))
    result = v.score(emb, refs)
    assert 0.0 <= result.score <= 1.0 and len(result.distances) == 3
    assert v.decide(result.score) in ("genuine", "refer", "forgery")


def test_evaluate_report_schema_and_plot(tmp_path, trained, folders_tree):
    report = run_evaluation(
        folders_tree,
        "folders",
        trained[1].model_dir,
        references=3,
        json_path=tmp_path / "r.json",
        plot_path=tmp_path / "r.png",
    )
    on_disk = json.loads((tmp_path / "r.json").read_text())
    assert REPORT_KEYS <= on_disk.keys()
    assert on_disk["writers"] == 6 and on_disk["references"] == 3
    assert (
        on_disk["genuine_queries"] == 6 * 4
        and on_disk["skilled_queries"] == 6 * 3
        and on_disk["random_queries"] == 6 * 5
    )
    for kind in ("skilled", "random"):
        assert 0.0 <= on_disk[kind]["eer"] <= 1.0 and 0.0 <= on_disk[kind]["auc"] <= 1.0
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    assert report["model_sha256"] == trained[1].card.sha256


def test_cli_pipeline(tmp_path, trained, folders_tree, capsys):
    organized = tmp_path / "organized"
    assert (
        cli.main(
            [
                "import-data",
                "--data",
                str(folders_tree),
                "--layout",
                "folders",
                "--name",
                "syn",
                "--out",
                str(organized),
                "--size",
                "32x48",
            ]
        )
        == 0
    )
    assert "writers: 6" in capsys.readouterr().out
    pairs_dir = tmp_path / "pairs"
    assert cli.main(["make-pairs", "--data", str(organized / "syn"), "--out", str(pairs_dir)]) == 0
    assert (pairs_dir / "pairs.csv").exists() and (pairs_dir / "splits.csv").exists()
    assert (
        cli.main(
            [
                "evaluate",
                "--data",
                str(organized / "syn"),
                "--model",
                str(trained[1].model_dir),
                "-R",
                "2",
                "--json",
                str(tmp_path / "e.json"),
            ]
        )
        == 0
    )
    assert "skilled EER" in capsys.readouterr().out
    assert "by_references" not in json.loads((tmp_path / "e.json").read_text())  # one R: as before
    assert cli.main(["import-data", "--data", str(tmp_path / "nope"), "--layout", "cedar"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_publish_wants_one_dataset_per_leave_one_out_model(tmp_path, tiny_model_dir, folders_tree, capsys):
    argv = ["publish", "--model", str(tiny_model_dir), "--data", str(folders_tree), "--split-file", "splits.csv"]
    argv += ["--out", str(tmp_path / "out"), "--leave-one-out-data", str(folders_tree)]
    argv += ["--leave-one-out-model", str(tiny_model_dir)] * 2
    assert cli.main(argv) == 2
    assert "one of each per model" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before any work


@pytest.mark.parametrize(
    "command", ["import-data", "make-pairs", "train", "evaluate", "publish", "export-onnx", "cheque-points"]
)
def test_every_subcommand_has_help(command):
    script = Path(sys.executable).with_name("sigverify")
    for argv in ([str(script)], [sys.executable, "-m", "sigverify"]):
        out = subprocess.run(argv + [command, "--help"], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and "usage:" in out.stdout


def test_publish_ships_weights_with_card_and_plots(tmp_path, trained, folders_tree):
    from sigverify.pairs import assign_splits_per_dataset, write_splits
    from sigverify.publish import PublishOptions, publish

    splits = assign_splits_per_dataset(
        [f"{folders_tree.name.lower()}/w{i:02d}" for i in range(1, 7)], val_fraction=0.2, test_fraction=0.4
    )
    write_splits(tmp_path / "splits.csv", splits)
    target = tmp_path / "shipped"
    card = publish(
        trained[1].model_dir,
        target,
        PublishOptions((str(folders_tree),), str(tmp_path / "splits.csv"), swap_check=str(folders_tree)),
        log=lambda m: None,
    )
    assert {"model.safetensors", "model_card.json", "MODEL_CARD.md"} <= {p.name for p in target.iterdir()}
    assert card.metrics.test_at(folders_tree.name.lower(), 5).writers == 2
    assert card.metrics.background_swap is not None and card.plots
    assert card.sha256 in (target / "MODEL_CARD.md").read_text()
    assert ModelCard.read(target) == card  # what was written reads back as the same typed card
    assert sorted(card.metrics.validation) == sorted(trained[1].card.metrics.validation)  # kept apart, unchanged
    Verifier.from_dir(target)  # the shipped copy passes its own sha256 check

    # The calibrated validation and test scores ship beside the card, and the card's thresholds are
    # the default policy's, computed from them by the function the service uses for any policy.
    from sigverify.policy import Policy, scores_for_card, thresholds_for

    name = folders_tree.name.lower()
    assert card.scores.file == "scores.json" and card.scores.references == 5
    assert card.scores.splits == {"val": [name], "test": [name]}
    scores = scores_for_card(target, ModelCard.read(target))
    assert scores.model_sha256 == card.sha256
    held = card.metrics.test_at(name, 5)
    assert len(scores.pooled("test", "genuine")) == held.genuine_queries
    assert len(scores.pooled("test", "skilled")) == held.skilled_queries
    assert len(scores.pooled("test", "random")) == held.random_queries
    assert len(scores.pooled("val", "genuine")) and len(scores.pooled("val", "skilled"))
    expected = thresholds_for(scores, Policy(0.01, 0.01))
    assert card.thresholds.model_dump(include=set(expected)) == expected
    # One pair per R, each from that R's validation scores; R=5 is the top-level pair.
    assert card.scores.reference_counts == scores.buckets and 1 in scores.buckets
    assert card.thresholds.by_references["5"].accept == card.thresholds.accept
    assert sorted(card.scoring.by_references, key=int) == [str(r) for r in REFERENCE_BUCKETS]
    assert card.thresholds.eer is not None and "scores.json" in (target / "MODEL_CARD.md").read_text()


def tiny_splits(tmp_path, folders_tree) -> tuple[str, dict]:
    """(dataset name, splits) of the drawn dataset's 6 writers, written to ``tmp_path / "splits.csv"``."""
    from sigverify.pairs import assign_splits_per_dataset, write_splits

    name = folders_tree.name.lower()
    splits = assign_splits_per_dataset([f"{name}/w{i:02d}" for i in range(1, 7)], val_fraction=0.2, test_fraction=0.4)
    write_splits(tmp_path / "splits.csv", splits)
    return name, splits


def test_cheque_points_fit_a_stricter_pair_for_crops_found_on_whole_cheques(tmp_path, trained, folders_tree):
    """``refit_on_cheques`` (``sigverify cheque-points``): the validation writers' signatures on
    generated cheques, cut by the service's box, go into the scores file, and the card gains a
    cheque pair never looser than its own; nothing else in the card changes."""
    from sigverify.cheque_scores import ChequeProtocol
    from sigverify.policy import Policy, scores_for_card, thresholds_at, thresholds_for
    from sigverify.publish import PublishOptions, publish, refit_on_cheques

    name, _ = tiny_splits(tmp_path, folders_tree)
    target = tmp_path / "shipped"
    before = publish(
        trained[1].model_dir,
        target,
        PublishOptions((str(folders_tree),), str(tmp_path / "splits.csv")),
        log=lambda m: None,
    )
    assert before.thresholds.cheque is None
    protocol = ChequeProtocol(queries={"val": 2, "test": 1})
    card = refit_on_cheques(target, [folders_tree], tmp_path / "splits.csv", protocol, log=lambda m: None)
    scores = scores_for_card(target, ModelCard.read(target))  # the new file matches the card's sha256
    assert set(scores.cheque) == {"val", "test"} and set(scores.cheque["val"]) == {name}
    val = scores.cheque["val"][name]
    assert 0 < len(val["genuine"]) <= 2 * 3 and 0 < len(val["skilled"]) <= 2 * 3  # 2 queries x 3 captures
    assert scores.cheque_protocol["queries"] == {"val": 2, "test": 1}
    assert card.thresholds.model_dump(include={"cheque"})["cheque"] == thresholds_for(scores, Policy())["cheque"]
    assert card.thresholds.cheque.reject <= card.thresholds.reject
    assert card.thresholds.cheque.accept >= card.thresholds.accept
    assert card.thresholds.model_dump(exclude={"cheque"}) == before.thresholds.model_dump(exclude={"cheque"})
    assert card.metrics == before.metrics and card.sha256 == before.sha256
    thresholds = card.to_dict()["thresholds"]
    assert thresholds_at(thresholds, 1, cheque=True)["cheque"] is True
    assert "on a whole cheque" in (target / "MODEL_CARD.md").read_text()


def test_publish_with_onnx_ships_checked_onnx_files_in_the_card(tmp_path, trained, folders_tree, monkeypatch):
    pytest.importorskip("onnxruntime")
    from sigverify import runtime

    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"avx2"})  # auto as on a CPU without VNNI: the fp32 file
    from sigverify.pairs import assign_splits_per_dataset, write_splits
    from sigverify.publish import PublishOptions, publish

    name = folders_tree.name.lower()
    splits = assign_splits_per_dataset([f"{name}/w{i:02d}" for i in range(1, 7)], val_fraction=0.2, test_fraction=0.4)
    write_splits(tmp_path / "splits.csv", splits)
    target = tmp_path / "shipped"
    options = PublishOptions(datasets=(str(folders_tree),), split_file=str(tmp_path / "splits.csv"), onnx=True)
    card = publish(trained[1].model_dir, target, options, log=lambda m: None)
    assert {"model.onnx", "model.int8.onnx"} <= {p.name for p in target.iterdir()}
    assert card.onnx.fp32.usable and card.onnx.fp32.weights_sha256 == card.sha256
    assert set(card.onnx.int8.check.datasets) == {name}  # checked on the test writers
    assert card.onnx.int8.usable == card.onnx.int8.check.passed
    assert ModelCard.read(target) == card
    assert card.onnx.fp32.sha256[:16] in (target / "MODEL_CARD.md").read_text()
    assert Verifier.from_dir(target, inference="auto").inference_path == "onnx-fp32"


def test_publish_reports_decisions_captures_and_a_left_out_dataset(tmp_path, trained, folders_tree, tiny_model_dir):
    from sigverify.pairs import assign_splits_per_dataset, write_splits
    from sigverify.publish import PublishOptions, publish

    name = folders_tree.name.lower()
    write_splits(
        tmp_path / "splits.csv",
        assign_splits_per_dataset([f"{name}/w{i:02d}" for i in range(1, 7)], val_fraction=0.2, test_fraction=0.4),
    )
    card = publish(
        trained[1].model_dir,
        tmp_path / "shipped",
        PublishOptions(
            (str(folders_tree),),
            str(tmp_path / "splits.csv"),
            capture_checks=((str(folders_tree), "bilevel"),),
            leave_one_out=((tiny_model_dir, str(folders_tree)),),
        ),
        log=lambda m: None,
    )
    for r in (1, 2, 3, 5):
        decisions = card.metrics.held_out[f"{name}_R{r}"].decisions
        # At the thresholds the card ships for that R, not the training run's.
        pair = card.thresholds_at(r)
        assert (decisions.accept, decisions.reject) == (pair.accept, pair.reject)
        assert decisions.referred + decisions.automated == pytest.approx(1.0)
    assert f"{name}_R10" not in card.metrics.held_out  # 7 genuine per writer: no query left at R=10
    bilevel = card.metrics.capture[f"{name}-bilevel_R5"]
    assert bilevel.writers == 2 and bilevel.decisions.accept == card.thresholds.accept
    (left_out,) = card.metrics.leave_one_dataset_out
    assert left_out.left_out == name and name not in left_out.trained_on
    assert sorted(left_out.held_out) == ["R1", "R2", "R3", "R5"] and left_out.held_out["R5"].writers == 2
    text = (tmp_path / "shipped" / "MODEL_CARD.md").read_text()
    assert "Per dataset and number of references" in text and "Operating points per number of references" in text
    assert "Decisions at the shipped" in text and f"| {name}-bilevel | 5 |" in text and "Leave one dataset out" in text
    with pytest.raises(ValueError, match="was trained on"):
        publish(
            trained[1].model_dir,
            tmp_path / "again",
            PublishOptions(
                (str(folders_tree),),
                str(tmp_path / "splits.csv"),
                leave_one_out=((trained[1].model_dir, str(folders_tree)),),
            ),
            log=lambda m: None,
        )


def test_evaluate_reports_decisions_for_several_r_each_at_its_own_thresholds(tmp_path, trained, folders_tree, capsys):
    from sigverify.pairs import assign_splits_per_dataset, write_splits
    from sigverify.publish import PublishOptions, publish

    name = folders_tree.name.lower()
    write_splits(
        tmp_path / "splits.csv",
        assign_splits_per_dataset([f"{name}/w{i:02d}" for i in range(1, 7)], val_fraction=0.2, test_fraction=0.4),
    )
    card = publish(
        trained[1].model_dir,
        tmp_path / "shipped",
        PublishOptions((str(folders_tree),), str(tmp_path / "splits.csv")),
        log=lambda m: None,
    )
    argv = ["evaluate", "--data", str(folders_tree), "--model", str(tmp_path / "shipped"), "-R", "1", "3", "5"]
    assert cli.main(argv + ["--json", str(tmp_path / "e.json")]) == 0
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "e.json").read_text())
    assert report["references"] == 1 and sorted(report["by_references"], key=int) == ["1", "3", "5"]
    for r in (1, 3, 5):
        one = report["by_references"][str(r)]
        pair = card.thresholds_at(r)
        assert one["references"] == r and one["decisions_fitted_for"] == r
        assert (one["decisions"]["accept"], one["decisions"]["reject"]) == (pair.accept, pair.reject)
        assert one["genuine_queries"] == 6 * (7 - r)
        assert f"\n{r:2d}  " in out  # a row per R in the printed table
    assert report["decisions"] == report["by_references"]["1"]["decisions"]
    # --references keeps working, and an older card (one pair) decides every R with it.
    assert (
        cli.main(
            ["evaluate", "--data", str(folders_tree), "--model", str(trained[1].model_dir), "--references", "1", "4"]
        )
        == 0
    )
    old = run_evaluation(folders_tree, "folders", trained[1].model_dir, references=[1, 4])
    thresholds = trained[1].card.to_dict()["thresholds"]
    for one in old["by_references"].values():
        assert one["decisions_fitted_for"] is None
        assert (one["decisions"]["accept"], one["decisions"]["reject"]) == (thresholds["accept"], thresholds["reject"])


def test_publish_with_a_signer_classifier_ships_its_background_and_a_fused_calibration(tmp_path, trained, folders_tree):
    from sigverify.publish import PublishOptions, publish
    from sigverify.writer_dependent import fit_signer_classifier, load_background

    _, splits = tiny_splits(tmp_path, folders_tree)
    target = tmp_path / "shipped"
    card = publish(
        trained[1].model_dir,
        target,
        PublishOptions((str(folders_tree),), str(tmp_path / "splits.csv"), signer_classifier=True),
        log=lambda m: None,
    )
    train_writers = sorted(k for k, s in splits.items() if s == "train")
    assert card.background.writers == len(train_writers) and card.background.embeddings == 2 * len(train_writers)
    background = load_background(target, card)
    assert background.shape == (card.background.embeddings, 16)
    assert card.scoring.by_references["3"].fused is not None
    # What is published decides with the fused map, and the R it used is what it decides with.
    v = Verifier.from_dir(target)
    refs = v.embed_arrays([v.preprocess(png_bytes(draw_signature(1, i)))[0] for i in range(3)])
    query = v.embed(png_bytes(draw_signature(1, 9)))[0]
    result = v.score(query, refs, classifier=fit_signer_classifier(refs, background))
    assert result.fused and result.references == 3 and result.margin is not None
    assert v.decide(result.score, result.references) in ("genuine", "refer", "forgery")
    # Publishing again without it removes the file and the card's entry.
    options = PublishOptions((str(folders_tree),), str(tmp_path / "splits.csv"))
    card = publish(trained[1].model_dir, target, options, log=lambda m: None)
    assert card.background is None and not (target / "background.safetensors").exists()


def test_publish_reuses_stored_embeddings_of_the_same_model(tmp_path, trained, folders_tree):
    from sigverify.embedding import embed_samples, save_embedded
    from sigverify.pairs import assign_splits_per_dataset, write_splits
    from sigverify.publish import PublishOptions, publish

    name = folders_tree.name.lower()
    splits = assign_splits_per_dataset([f"{name}/w{i:02d}" for i in range(1, 7)], val_fraction=0.2, test_fraction=0.4)
    write_splits(tmp_path / "splits.csv", splits)
    verifier = Verifier.from_dir(trained[1].model_dir)
    stored = tmp_path / trained[1].card.sha256[:12]
    stored.mkdir()
    for split in ("val", "test"):
        embeddings, kept = embed_samples(verifier, folders_tree, "folders", tmp_path / "splits.csv", split)
        save_embedded(stored / f"{name}_{split}.npz", embeddings, kept)
    options = PublishOptions((str(folders_tree),), str(tmp_path / "splits.csv"))
    model = trained[1].model_dir
    fresh = publish(model, tmp_path / "a", options, log=lambda m: None)
    reused = publish(model, tmp_path / "b", replace(options, embedded=str(stored)), log=lambda m: None)
    assert reused.thresholds == fresh.thresholds and reused.scoring == fresh.scoring
    assert reused.metrics.held_out == fresh.metrics.held_out
    with pytest.raises(ValueError, match="another model"):
        publish(model, tmp_path / "c", replace(options, embedded=str(tmp_path)), log=lambda m: None)
