"""The training options, declared once: type, default, limits and help of each.

``TrainConfig`` is what ``train()`` takes. Everything else is derived from it:

- the ``sigverify train`` flags and their ``--help`` (``add_arguments`` / ``from_arguments``);
- what an API caller may set (``CALLER_OPTIONS``; the rest is ``WORKER_OWNED``), validated by
  ``subset()`` models and documented by their JSON schema (the OpenAPI schema of a training job).

Django-free and torch-free, so the web process imports it without loading torch.
"""

from __future__ import annotations

import argparse
import json
import os
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError, create_model

REPO_ROOT = Path(__file__).resolve().parents[2]

LOSSES = ("contrastive", "triplet-semihard", "triplet-hard")
PRECISIONS = ("auto", "fp32", "bf16")  # auto: bf16 autocast where the CPU/GPU has it


@dataclass(frozen=True)
class Cli:
    """How an option is spelt on the command line where the generated flag does not fit."""

    flag: str | None = None  # default: --the-field-name
    parse: Callable[[str], Any] | None = None  # text -> value (default: the field's type)
    metavar: str | None = None
    show_default: Callable[[Any], str] | None = None


class _WorkerOwned:
    """Marks an option set by whoever runs the training (paths, device, threads), never by an API caller."""

    def __repr__(self):
        return "WORKER_OWNED"


WORKER_OWNED = _WorkerOwned()


def parse_size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            "size must look like HEIGHTxWIDTH, two whole numbers of pixels joined by x"
        ) from exc
    return h, w


def _show_size(size) -> str:
    return "x".join(str(v) for v in size)


Side = Annotated[int, Field(ge=16, le=1024)]
PathText = Annotated[str, BeforeValidator(lambda v: os.fspath(v) if isinstance(v, os.PathLike) else v)]


class TrainConfig(BaseModel):
    """One training run. Field order is the order of the model card's ``recipe``."""

    model_config = ConfigDict(extra="forbid")

    data: Annotated[
        list[PathText],
        Field(min_length=1, description="organised dataset dirs (or `folders` trees)"),
        Cli(metavar="DIR"),
        WORKER_OWNED,
    ]
    out_dir: Annotated[
        PathText, Field(description="run dir (checkpoints, model/)"), Cli("--out", metavar="DIR"), WORKER_OWNED
    ] = str(REPO_ROOT / "runs" / "latest")
    name: Annotated[str, Field(min_length=1, max_length=100, description="model name in the model card")] = (
        "sigverify-resnet18"
    )
    epochs: Annotated[
        int,
        Field(
            ge=1,
            le=1000,
            description="epochs to train, at most (early stopping may end sooner; a resumed run counts all)",
        ),
    ] = 30
    loss: Annotated[Literal[LOSSES], Field(description="metric loss")] = "triplet-semihard"
    margin: Annotated[
        float | None, Field(ge=0.0, le=2.0, description="metric-loss margin in cosine distance (default: the loss's)")
    ] = None
    seed: Annotated[int, Field(ge=0, le=2**32 - 1, description="seed of the split, sampling and initialisation")] = 0
    input_size: Annotated[
        tuple[Side, Side],
        Field(description="input size (height, width) in pixels"),
        Cli("--size", parse=parse_size, metavar="HxW", show_default=_show_size),
    ] = (128, 256)  # the shipped recipe's; the card records the size a model was trained at
    embedding_dim: Annotated[int, Field(ge=1, le=4096, description="embedding size")] = 256
    writers_per_batch: Annotated[int, Field(ge=1, le=1000, description="writers in each batch (P)")] = 12
    genuine_per_writer: Annotated[int, Field(ge=1, le=100, description="genuine signatures per writer (K)")] = 4
    forged_per_writer: Annotated[int, Field(ge=0, le=100, description="skilled forgeries per writer (F)")] = 2
    steps_per_epoch: Annotated[
        int | None, Field(ge=1, description="batches per epoch (default: one pass over the training images)")
    ] = None
    lr: Annotated[float, Field(gt=0.0, le=1.0, description="AdamW peak learning rate (warm-up, then cosine)")] = 1e-3
    weight_decay: Annotated[float, Field(ge=0.0, description="AdamW decoupled weight decay")] = 1e-4
    writer_weight: Annotated[float, Field(ge=0.0, description="weight of the writer-classification loss")] = 1.0
    # Each writer's skilled forgeries form a class of their own in the CosFace head, so the
    # embedding itself (what scoring uses) is pushed to separate them from the writer's genuine.
    forgery_classes: Annotated[
        bool, Field(description="each writer's skilled forgeries are a class of their own in the writer head")
    ] = False
    forgery_weight: Annotated[float, Field(ge=0.0, description="weight of the genuine/forged head")] = 0.5
    # With few writers the validation EER swings by points between epochs; the average swings less.
    ema_decay: Annotated[
        float,
        Field(
            ge=0.0,
            lt=1.0,
            description="validate and ship an exponential moving average of the weights (e.g. 0.99; 0: off)",
        ),
    ] = 0.0
    augment: Annotated[bool, Field(description="augment training batches (affine, stroke width, ink)")] = True
    # Random binarisation, lower resolution and blur, so grey and bilevel scans at any dpi look alike.
    capture_augment: Annotated[
        bool, Field(description="also random binarisation, lower resolution and blur (grey and bilevel scans alike)")
    ] = False
    # Each batch draws its writers evenly from every dataset, so a small set is not drowned out.
    balance_datasets: Annotated[bool, Field(description="draw each batch's writers evenly from every dataset")] = False
    init_from: Annotated[
        PathText | None,
        Field(description="model dir to warm-start the embedder from (e.g. trained_model_parameters)"),
        Cli(metavar="DIR"),
        WORKER_OWNED,
    ] = None
    val_fraction: Annotated[float, Field(ge=0.0, lt=1.0, description="share of writers held out for validation")] = (
        0.125
    )
    test_fraction: Annotated[float, Field(ge=0.0, lt=1.0, description="share of writers held out for testing")] = 0.25
    split_file: Annotated[
        PathText | None,
        Field(description="writer splits CSV from make-pairs (default: assign with the seed)"),
        Cli(metavar="CSV"),
        WORKER_OWNED,
    ] = None
    patience: Annotated[int, Field(ge=1, description="early stopping: epochs without a better validation EER")] = 6
    device: Annotated[str, Field(min_length=1, description="auto, cpu, cuda or cuda:N"), WORKER_OWNED] = "auto"
    precision: Annotated[Literal[PRECISIONS], Field(description="auto: bf16 autocast where the CPU/GPU has it")] = (
        "auto"
    )
    threads: Annotated[int, Field(ge=0, le=1024, description="torch threads (0: torch's default)"), WORKER_OWNED] = 0
    resume: Annotated[bool, Field(description="continue from the run dir's checkpoint"), WORKER_OWNED] = False


def caller_options(model: type[BaseModel] = TrainConfig) -> tuple[str, ...]:
    """The options an API caller may set: all but the ``WORKER_OWNED`` ones."""
    return tuple(n for n, f in model.model_fields.items() if WORKER_OWNED not in f.metadata)


CALLER_OPTIONS = caller_options()


def subset(name: str, fields, base: type[BaseModel] = TrainConfig, description: str | None = None) -> type[BaseModel]:
    """A model of some of ``base``'s fields, each exactly as declared; unknown keys are refused."""
    declared = base.model_fields
    return create_model(
        name,
        __config__=ConfigDict(extra="forbid", json_schema_extra={"description": description} if description else None),
        **{n: (declared[n].annotation, declared[n]) for n in fields},
    )


def validate_json_values(model: type[BaseModel], values: dict) -> dict:
    """Validate JSON-like ``values`` strictly (no "3" for 3, no true for 1); the set values, normalised."""
    return model.model_validate_json(json.dumps(values), strict=True).model_dump(mode="json", exclude_unset=True)


def field_errors(exc: ValidationError, model: type[BaseModel]) -> dict[str, list[str]]:
    """Pydantic's errors as messages per option name (a position inside a list is in the message)."""
    out: dict[str, list[str]] = {}
    for error in exc.errors():
        loc = error["loc"]
        name = str(loc[0]) if loc else "non_field_errors"
        if error["type"] == "extra_forbidden":
            message = f"unknown option; the options are {', '.join(model.model_fields)}"
        else:
            where = ", ".join(f"item {p + 1}" if isinstance(p, int) else str(p) for p in loc[1:])
            message = f"{where}: {error['msg']}" if where else error["msg"]
        out.setdefault(name, []).append(message)
    return out


# --- the command line ---------------------------------------------------------------------


def _cli(info) -> Cli:
    return next((m for m in info.metadata if isinstance(m, Cli)), Cli())


def _flag(name: str, info) -> str:
    return _cli(info).flag or "--" + name.replace("_", "-")


def _base_type(annotation):
    """int | None -> int, Annotated[str, ...] -> str; Literal[...] and list[...] are left as they are."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else annotation
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _limits(prop: dict) -> str:
    """The limits in a property's JSON schema, as words for --help."""
    prop = next((p for p in prop.get("anyOf", []) if p.get("type") != "null"), prop)
    parts = []
    for key, word in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
        ("minLength", "length >="),
        ("maxLength", "length <="),
    ):
        if key in prop:
            parts.append(f"{word} {prop[key]}")
    items = prop.get("prefixItems") or ([prop["items"]] if isinstance(prop.get("items"), dict) else [])
    if items and _limits(items[0]):
        parts.append(f"each {_limits(items[0])}")
    return ", ".join(parts)


def _help(name: str, info, prop: dict) -> str:
    text = info.description or name
    bits = []
    if not info.is_required():
        default = info.get_default(call_default_factory=True)
        show = _cli(info).show_default
        if default is not None and not isinstance(default, bool):  # argparse shows a flag's own default
            bits.append(f"default {show(default) if show else default}")
    limits = _limits(prop)
    if limits:
        bits.append(limits)
    text = f"{text} ({'; '.join(bits)})" if bits else text
    return text.replace("%", "%%")  # argparse formats help with %


def _checked(name: str, info, parse):
    """An argparse ``type``: parse the text, then check it against the declared limits."""
    adapter = TypeAdapter(Annotated[(info.annotation, *info.metadata)])

    def convert(text: str):
        value = parse(text)
        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            raise argparse.ArgumentTypeError("; ".join(e["msg"] for e in exc.errors())) from exc

    convert.__name__ = getattr(parse, "__name__", name)  # argparse's "invalid int value"
    return convert


def add_arguments(parser: argparse.ArgumentParser, model: type[BaseModel] = TrainConfig) -> None:
    """One flag per option of ``model``, with its type, default, choices, limits and help."""
    props = model.model_json_schema()["properties"]
    for name, info in model.model_fields.items():
        cli = _cli(info)
        kwargs: dict[str, Any] = {"dest": name, "help": _help(name, info, props[name])}
        if info.is_required():
            kwargs["required"] = True
        else:
            kwargs["default"] = info.get_default(call_default_factory=True)
        annotation = _base_type(info.annotation)
        if cli.metavar:
            kwargs["metavar"] = cli.metavar
        if annotation is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif get_origin(annotation) is Literal:
            kwargs["choices"] = get_args(annotation)
        elif get_origin(annotation) is list:
            kwargs["nargs"] = "+"
            kwargs["type"] = str
        else:
            kwargs["type"] = _checked(name, info, cli.parse or annotation)
        parser.add_argument(_flag(name, info), **kwargs)


def from_arguments(args: argparse.Namespace, model: type[BaseModel] = TrainConfig):
    return model(**{name: getattr(args, name) for name in model.model_fields})
