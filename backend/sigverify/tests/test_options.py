"""The training options: one declaration (``TrainConfig``) makes the CLI flags, --help and the
API subset; no torch needed to read it."""

import argparse
import subprocess
import sys

import pytest
from pydantic import Field, ValidationError, create_model

from sigverify import cli, options
from sigverify.options import CALLER_OPTIONS, WORKER_OWNED, TrainConfig


def _parser(model=TrainConfig):
    parser = argparse.ArgumentParser(prog="train")
    options.add_arguments(parser, model)
    return parser


def _flag(name):
    return {"out_dir": "--out", "input_size": "--size"}.get(name, "--" + name.replace("_", "-"))


def test_train_help_lists_every_option_with_its_default_and_limits():
    out = subprocess.run(
        [sys.executable, "-m", "sigverify", "train", "--help"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    for name in TrainConfig.model_fields:
        assert _flag(name) in out, name
    flat = " ".join(out.split())  # argparse wraps lines
    assert "(default 30; >= 1, <= 1000)" in flat  # --epochs
    assert "(default 128x256; each >= 16, <= 1024)" in flat  # --size
    assert "{contrastive,triplet-semihard,triplet-hard}" in flat


def test_flags_parse_into_the_config_with_its_defaults():
    args = cli.build_parser().parse_args(
        ["train", "--data", "a", "b", "--size", "32x48", "--margin", "0.3", "--no-augment", "--forgery-classes"]
    )
    config = options.from_arguments(args)
    assert config.data == ["a", "b"] and config.input_size == (32, 48) and config.margin == 0.3
    assert config.augment is False and config.forgery_classes is True
    defaults = TrainConfig(data=["a", "b"])
    assert config.model_dump(exclude={"input_size", "margin", "augment", "forgery_classes"}) == defaults.model_dump(
        exclude={"input_size", "margin", "augment", "forgery_classes"}
    )


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--lr", "0"], "--lr: Input should be greater than 0"),
        (["--size", "8x48"], "--size: Input should be greater than or equal to 16"),
        (["--size", "big"], "--size: size must look like HEIGHTxWIDTH"),
        (["--epochs", "two"], "--epochs: invalid int value"),
        (["--loss", "hinge"], "--loss: invalid choice"),
    ],
)
def test_bad_flags_are_refused_by_argparse_with_the_declared_limit(argv, words, capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(["--data", "d", *argv])
    assert words in capsys.readouterr().err


def test_config_validates_like_the_declaration():
    with pytest.raises(ValidationError, match="ema_decay"):
        TrainConfig(data=["d"], ema_decay=1.0)
    with pytest.raises(ValidationError, match="loss"):
        TrainConfig(data=["d"], loss="hinge")
    with pytest.raises(ValidationError, match="data"):
        TrainConfig(data=[])
    with pytest.raises(ValidationError, match="learning_rate"):
        TrainConfig(data=["d"], learning_rate=0.1)
    assert TrainConfig(data=["d"], input_size=[32, 48]).input_size == (32, 48)


def test_caller_options_leave_out_paths_device_threads_and_resume():
    owned = {n for n, f in TrainConfig.model_fields.items() if WORKER_OWNED in f.metadata}
    assert owned == {"data", "out_dir", "split_file", "init_from", "device", "threads", "resume"}
    assert set(CALLER_OPTIONS) == set(TrainConfig.model_fields) - owned


def test_subset_validates_json_strictly_and_names_the_field():
    model = options.subset("Opts", ["lr", "input_size", "augment"])
    assert options.validate_json_values(model, {"lr": 1, "input_size": [32, 48]}) == {"lr": 1.0, "input_size": [32, 48]}
    for bad, field in [
        ({"lr": "fast"}, "lr"),
        ({"augment": 1}, "augment"),
        ({"input_size": [32]}, "input_size"),
        ({"input_size": [32, 4]}, "input_size"),
        ({"out_dir": "/tmp"}, "out_dir"),
    ]:
        with pytest.raises(ValidationError) as caught:
            options.validate_json_values(model, bad)
        errors = options.field_errors(caught.value, model)
        assert list(errors) == [field], (bad, errors)
    with pytest.raises(ValidationError) as caught:
        options.validate_json_values(model, {"input_size": [32, 4]})
    assert options.field_errors(caught.value, model)["input_size"] == [
        "item 2: Input should be greater than or equal to 16"
    ]


def test_a_new_option_appears_in_the_flags_the_api_subset_and_its_schema():
    extended = create_model(
        "Extended", __base__=TrainConfig, warmup=(float, Field(0.05, ge=0.0, le=0.5, description="warm-up share"))
    )
    parser = _parser(extended)
    assert parser.parse_args(["--data", "d", "--warmup", "0.1"]).warmup == 0.1
    assert "warm-up share (default 0.05; >= 0.0, <= 0.5)" in " ".join(parser.format_help().split())
    api = options.subset("Api", ["warmup"], base=extended)
    assert api.model_json_schema()["properties"]["warmup"]["maximum"] == 0.5
    with pytest.raises(ValidationError):
        options.validate_json_values(api, {"warmup": 0.9})


def test_reading_the_options_does_not_import_torch():
    code = "import sys, sigverify.options, sigverify.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False"
