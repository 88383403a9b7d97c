"""The model card, typed once: what a model directory says about its weights and their figures.

``sigverify train`` and ``sigverify publish`` write it (``model_card.json``), the backend's model
registry validates it when registering a version and serves it, and the interface parses the
API's copy with this same class. Pydantic only: no torch, no Django.

The figures keep two kinds apart:

- ``metrics.validation["R5"]``: the validation writers of every dataset pooled, R references
  per writer. They chose the best epoch and fitted the calibration and the thresholds, so
  they flatter the model.
- ``metrics.held_out["cedar_R5"]``: the held-out **test** writers of one dataset, never seen in
  training or validation. These are the figures to judge a model by.

``Metrics.validation_figures()`` and ``Metrics.test_figures()`` list both as ``Figures``
(split, dataset, R, evaluation), so no reader has to parse the keys.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, field_validator

from .errors import ModelLoadError

WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "model_card.json"
# The R of the ROC plots shipped beside the weights and of the background-swap check.
PLOT_REFERENCES = 5

# A fraction in [0, 1] (an error rate, an AUC) or a threshold; None where it could not be
# computed: NaN is written as null (JSON has no NaN, PostgreSQL's jsonb refuses it).
Rate = float | None

# The backend's OpenAPI schema names these models' components ModelCardThresholds, ModelCardMetrics, ...
OPENAPI_PREFIX = "ModelCard"

VALIDATION_KEY = re.compile(r"^R(?P<references>\d+)$")
HELD_OUT_KEY = re.compile(r"^(?P<dataset>.+)_R(?P<references>\d+)$")


class _Figures(BaseModel):
    """A part of the figures: unknown keys are refused, so a misspelt figure fails loudly."""

    model_config = ConfigDict(extra="forbid")


class _Open(BaseModel):
    """A part that grows with the code (recipe, data): unknown keys are kept."""

    model_config = ConfigDict(extra="allow")


class ErrorRates(_Figures):
    eer: Rate = None
    auc: Rate = None
    eer_threshold: Rate = Field(None, description="Calibrated score at which this EER is reached.")


class AtThreshold(_Figures):
    """Rates at the card's single ``thresholds.eer`` score threshold."""

    frr: Rate = None
    far_skilled: Rate = None
    far_random: Rate = None


class Decisions(_Figures):
    """What a bank sees at ``accept``/``reject`` (``sigverify.evaluate.decision_rates``)."""

    accept: float
    reject: float
    far_skilled_at_accept: Rate = Field(None, description="Skilled forgeries decided genuine.")
    far_random_at_accept: Rate = Field(None, description="Other writers' signatures decided genuine.")
    frr_at_reject: Rate = Field(None, description="Genuine signatures decided forgery.")
    referred: Rate = Field(None, description="Share of all the protocol's queries referred to a human.")
    automated: Rate = Field(None, description="Share of all the protocol's queries decided without a human.")
    referred_questioned: Rate = Field(None, description="Share of genuine and skilled queries referred.")
    referred_by_kind: dict[str, Rate] = Field(default_factory=dict)


class Evaluation(_Figures):
    """One protocol: each writer's first R genuine signatures as references, the rest as queries."""

    writers: int | None = None
    references: int | None = None
    genuine_queries: int | None = None
    skilled_queries: int | None = None
    random_queries: int | None = None
    skilled: ErrorRates = Field(default_factory=ErrorRates, description="Genuine against skilled forgeries.")
    random: ErrorRates = Field(default_factory=ErrorRates, description="Genuine against other writers' signatures.")
    user_threshold_eer_skilled: Rate = Field(None, description="Skilled EER with a threshold per writer.")
    threshold: Rate = None
    at_threshold: AtThreshold | None = None
    decisions: Decisions | None = Field(None, description="At the card's accept and reject thresholds.")


class LeaveOneOut(_Figures):
    """A model trained without one dataset, measured on that dataset's test writers: what a bank
    whose population the model has never seen can expect."""

    left_out: str
    trained_on: list[str] = Field(default_factory=list)
    model_sha256: str | None = None
    held_out: dict[str, Evaluation] = Field(
        default_factory=dict, description='By R ("R5") on the left-out test writers.'
    )


class HeldOutSplit(_Figures):
    split: str = "test"
    split_file: str | None = None


class BackgroundSwap(_Figures):
    """Skilled EER (R=5) before and after swapping the paper backgrounds of one dataset."""

    dataset: str
    skilled_eer: Rate = None
    skilled_eer_swapped: Rate = None
    delta_points: Rate = None


class Figures(BaseModel):
    """One row of figures, with what they were measured on spelt out."""

    model_config = ConfigDict(frozen=True)

    split: Literal["validation", "test"]
    dataset: str | None  # None: every dataset's validation writers pooled
    references: int
    evaluation: Evaluation


class Metrics(_Figures):
    validation: dict[str, Evaluation] = Field(
        default_factory=dict,
        description='By R ("R1", "R5"): validation writers of every dataset pooled; they chose the epoch and '
        "fitted the calibration and thresholds.",
    )
    held_out: dict[str, Evaluation] = Field(
        default_factory=dict,
        description='By dataset and R ("cedar_R5"): held-out test writers, never seen in training or validation.',
    )
    held_out_split: HeldOutSplit | None = None
    background_swap: BackgroundSwap | None = None
    capture: dict[str, Evaluation] = Field(
        default_factory=dict,
        description='By dataset, capture and R ("cedar-bilevel_R5"): held-out test writers whose images were '
        "turned into another capture first (sigverify evaluate --capture).",
    )
    leave_one_dataset_out: list[LeaveOneOut] = Field(default_factory=list)

    @field_validator("validation")
    @classmethod
    def _validation_keys(cls, value: dict[str, Evaluation]) -> dict[str, Evaluation]:
        return _checked_keys(value, VALIDATION_KEY, '"R<references>", e.g. "R5"')

    @field_validator("held_out")
    @classmethod
    def _held_out_keys(cls, value: dict[str, Evaluation]) -> dict[str, Evaluation]:
        return _checked_keys(value, HELD_OUT_KEY, '"<dataset>_R<references>", e.g. "cedar_R5"')

    def validation_figures(self) -> list[Figures]:
        return sorted(
            (
                Figures(
                    split="validation",
                    dataset=None,
                    references=int(VALIDATION_KEY.match(k)["references"]),
                    evaluation=e,
                )
                for k, e in self.validation.items()
            ),
            key=lambda f: f.references,
        )

    def test_figures(self) -> list[Figures]:
        rows = []
        for key, evaluation in self.held_out.items():
            match = HELD_OUT_KEY.match(key)
            rows.append(
                Figures(
                    split="test", dataset=match["dataset"], references=int(match["references"]), evaluation=evaluation
                )
            )
        return sorted(rows, key=lambda f: (f.dataset, f.references))

    def test_at(self, dataset: str, references: int) -> Evaluation | None:
        return self.held_out.get(f"{dataset}_R{references}")

    def validation_at(self, references: int) -> Evaluation | None:
        return self.validation.get(f"R{references}")

    @property
    def test_datasets(self) -> list[str]:
        return sorted({f.dataset for f in self.test_figures()})


def _checked_keys(value: dict, pattern: re.Pattern, expected: str) -> dict:
    for key, evaluation in value.items():
        match = pattern.match(key)
        if not match:
            raise ValueError(f"key {key!r} should look like {expected}")
        if evaluation.references is not None and evaluation.references != int(match["references"]):
            raise ValueError(f"key {key!r} holds figures for R={evaluation.references}")
    return value


REFERENCES_KEY = re.compile(r"^[1-9]\d*$")


class ReferenceThresholds(_Figures):
    """The operating points of one reference count R."""

    accept: float
    reject: float


class Thresholds(_Figures):
    """Calibrated-score operating points: genuine at or above ``accept``, forgery below ``reject``.

    ``by_references`` (cards published since operating points depend on R): one pair per fitted R;
    a signer with R references is decided with the pair of the largest fitted R at or below R
    (``ModelCard.thresholds_at``). Without it (older cards) the single pair holds for every R."""

    eer: float
    accept: float
    reject: float
    references: int | None = Field(None, description="R of the validation protocol they were fitted on.")
    accept_far_skilled: Rate = Field(None, description="Skilled-forgery FAR targeted by accept.")
    reject_frr: Rate = Field(None, description="Genuine FRR targeted by reject.")
    by_references: dict[str, ReferenceThresholds] | None = Field(
        None, description='By R ("1", "5"): accept and reject fitted for signers with that many references.'
    )
    cheque: ReferenceThresholds | None = Field(
        None,
        description="Fitted on signatures cut from whole cheques (validation writers, generated cheques): a crop"
        " found on a whole cheque is decided with the stricter of this pair and its R's own.",
    )

    @field_validator("by_references")
    @classmethod
    def _reference_keys(cls, value):
        return _reference_counts(value)


class FusedCalibration(_Figures):
    """logit = coef * -z + wd_coef * (signer classifier margin) + intercept."""

    coef: float
    intercept: float
    wd_coef: float


class ReferenceCalibration(_Figures):
    """The logistic map of one reference count R: logit = coef * -z + intercept."""

    coef: float
    intercept: float
    fused: FusedCalibration | None = Field(None, description="The map that also takes the signer classifier.")


class Scoring(_Figures):
    """The score model's parameters (``sigverify.scoring.ScoreModel``); missing ones take its defaults."""

    prior_mean: float | None = None
    prior_std: float | None = None
    prior_pairs: float | None = None
    min_std: float | None = None
    coef: float | None = None
    intercept: float | None = None
    by_references: dict[str, ReferenceCalibration] | None = Field(
        None, description='By R ("1", "5"): the calibration of signers with that many references.'
    )

    @field_validator("by_references")
    @classmethod
    def _reference_keys(cls, value):
        return _reference_counts(value)


def _reference_counts(value: dict | None) -> dict | None:
    for key in value or {}:
        if not REFERENCES_KEY.match(key):
            raise ValueError(f'key {key!r} should be a reference count, e.g. "5"')
    return value


class Background(_Figures):
    """Embeddings of training writers' genuine signatures shipped with the weights: the background a
    signer's own classifier is fitted against (``sigverify.writer_dependent``)."""

    file: str
    sha256: str
    embeddings: int
    writers: int
    per_writer: int


class ScoresFile(_Figures):
    """The calibrated validation and test scores shipped beside the weights (``sigverify.policy``)."""

    file: str
    sha256: str
    references: int
    splits: dict[str, list[str]] = Field(default_factory=dict, description="Datasets by split: val, test.")
    reference_counts: list[int] = Field(
        default_factory=list, description="Every R the file holds scores of (empty: only ``references``)."
    )


class OnnxDatasetCheck(_Figures):
    """ONNX Runtime against PyTorch on one dataset's held-out writers, at R references."""

    references: int
    queries: int = Field(description="Genuine, skilled and random queries decided.")
    skilled_eer_torch: Rate = None
    skilled_eer_onnx: Rate = None
    eer_change_points: Rate = Field(None, description="skilled_eer_onnx - skilled_eer_torch, in points.")
    decisions_changed: Rate = Field(None, description="Share of queries decided otherwise at the shipped points.")


class OnnxCheck(_Figures):
    """What ``sigverify.onnx_export`` measured before marking a file usable."""

    passed: bool
    max_abs_diff: float | None = Field(None, description="Largest embedding difference to PyTorch.")
    min_cosine: float | None = Field(None, description="Smallest cosine between an embedding and PyTorch's.")
    images: int | None = Field(None, description="Images the embedding differences were measured on.")
    split: str | None = None
    max_eer_change_points: float | None = None
    max_decisions_changed: float | None = None
    datasets: dict[str, OnnxDatasetCheck] = Field(default_factory=dict)


class OnnxQuantization(_Open):
    """How the int8 file was quantised (ONNX Runtime static quantisation); grows with the code."""

    format: str = "QDQ"
    calibration: str | None = None
    calibration_images: int | None = None
    calibration_writers: int | None = None
    per_channel: bool | None = None
    reduce_range: bool | None = None
    nodes_excluded: list[str] = Field(default_factory=list)
    op_types: list[str] | None = Field(None, description="Operators quantised (None: every one ONNX Runtime can).")
    percentile: float | None = Field(None, description="Share of each activation's values kept (percentile ranges).")


class OnnxFile(_Figures):
    """One ONNX file derived from the weights; ``usable`` only once its check passed."""

    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    weights_sha256: str | None = Field(None, description="sha256 of the weights it was exported from.")
    opset: int | None = None
    usable: bool = False
    quantization: OnnxQuantization | None = None
    check: OnnxCheck | None = None


class OnnxFiles(_Figures):
    """The ONNX files served by ONNX Runtime (``SIGVERIFY_INFERENCE``); the safetensors weights stay the source."""

    fp32: OnnxFile | None = None
    int8: OnnxFile | None = None


class Data(_Open):
    datasets: list[str] = Field(default_factory=list)
    writers: dict[str, list[str]] = Field(default_factory=dict, description="Writers by split: train, val, test.")


class EpochRecord(_Open):
    epoch: int
    loss: Rate = None
    val_eer: Rate = None
    images_per_s: float | None = None


class Recipe(_Open):
    """The training options (``TrainConfig``) and what the run did; options change with the code."""

    history: list[EpochRecord] = Field(default_factory=list)
    epochs_run: int | None = None
    best_epoch: int | None = None
    best_val_eer: Rate = None
    training_seconds: float | None = None


class ModelCard(_Open):
    """What serving a model needs is required (input size, embedding size, preprocessing, the
    weights' sha256, the thresholds): a card without one is refused at load, never defaulted."""

    name: str
    version: str = ""
    created: str | None = None
    architecture: str | None = None
    input_size: list[PositiveInt] = Field(
        min_length=2, max_length=2, description="Height and width the model sees, in pixels."
    )
    embedding_dim: PositiveInt
    preprocess_version: str
    weights_file: str = WEIGHTS_FILE
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the weights file.")
    scoring: Scoring = Field(default_factory=Scoring)
    thresholds: Thresholds
    metrics: Metrics = Field(default_factory=Metrics)
    data: Data = Field(default_factory=Data)
    recipe: Recipe | None = None
    plots: list[str] = Field(default_factory=list, description="PNG files beside the weights (ROC curves).")
    scores: ScoresFile | None = None
    background: Background | None = None
    onnx: OnnxFiles | None = Field(None, description="ONNX files of these weights (sigverify export-onnx).")

    def thresholds_at(self, references: int) -> ReferenceThresholds:
        """The accept/reject pair a signer with ``references`` references is decided with: the largest
        fitted R at or below it (the smallest above for fewer); an older card's single pair for every R."""
        by = self.thresholds.by_references
        if not by:
            return ReferenceThresholds(accept=self.thresholds.accept, reject=self.thresholds.reject)
        counts = sorted(int(k) for k in by)
        below = [r for r in counts if r <= references]
        return by[str(below[-1] if below else counts[0])]

    @property
    def size(self) -> tuple[int, int]:
        """``input_size`` as (height, width), the form preprocessing takes."""
        height, width = self.input_size
        return height, width

    @classmethod
    def read(cls, directory) -> ModelCard:
        """The card in ``directory``; ``CardError`` when it is missing, not JSON or not a card."""
        path = Path(directory) / CARD_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise CardError(f"no model card at {path}") from exc
        except json.JSONDecodeError as exc:
            raise CardError(f"model card {path} is not valid JSON: {exc}") from exc
        return cls.parse(data, source=f"model card {path}")

    @classmethod
    def parse(cls, data: dict, source: str = "model card") -> ModelCard:
        if not isinstance(data, dict):
            raise CardError(f"{source} is not a JSON object")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise CardError(f"{source} is not valid: {_errors(exc)}") from exc

    def to_dict(self) -> dict:
        """What the file holds: the keys that were given (no filled-in defaults), NaN as null."""
        return json.loads(self.model_dump_json(exclude_unset=True))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def write(self, directory) -> Path:
        """Write ``model_card.json`` (``.part`` then rename)."""
        path = Path(directory) / CARD_FILE
        part = path.with_name(path.name + ".part")
        part.write_text(self.to_json())
        os.replace(part, path)
        return path


class CardError(ModelLoadError):
    """A model card that is missing or does not match ``ModelCard``."""


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'card'}: {e['msg']}" for e in exc.errors())
