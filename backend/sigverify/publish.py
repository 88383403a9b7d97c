"""``sigverify publish``: evaluate a trained model dir on held-out writers and ship it.

``publish`` runs ``STEPS`` in order on one ``Publication``: the signer classifier's background, the
calibration per R, the held-out figures and checks (``card_figures``), the calibrated validation
and test scores (``scores.json``, its sha256 in the card) from which any operating policy's
thresholds follow, the card's thresholds set to the default policy's (1% / 1%), the weights copied
(``.part`` then rename), and the card written with its Markdown (``card_markdown``). A new step (an
export beside the weights) is a function of the ``Publication`` added to ``STEPS``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import card_figures as figures
from . import evaluate as ev
from .card import (
    PLOT_REFERENCES,
    WEIGHTS_FILE,
    Background,
    BackgroundSwap,
    Evaluation,
    HeldOutSplit,
    LeaveOneOut,
    ModelCard,
    ScoresFile,
    Scoring,
    Thresholds,
)
from .card_markdown import MARKDOWN_FILE, render_markdown
from .cheque_scores import ChequeProtocol, add_cheque_scores
from .embedding import embed_split, load_embedded
from .errors import DatasetError
from .inference import Verifier
from .onnx_export import export_onnx
from .policy import SCORES_FILE, Policy, StoredScores, scores_for_card, thresholds_for
from .report import evaluation_report, run_evaluation
from .scoring import REFERENCE_BUCKETS
from .weights import sha256_file
from .writer_dependent import BACKGROUND_FILE, load_background, write_background


@dataclass(frozen=True)
class PublishOptions:
    """What to measure and ship besides the held-out figures of ``datasets``' ``split`` writers.

    ``capture_checks``: (dataset dir, capture) pairs measured as ``metrics.capture``; without them
    the source card's capture figures are kept, less their decisions (made at other thresholds).
    ``leave_one_out``: (model dir trained without one dataset, that dataset's dir) pairs.
    ``signer_classifier``: ship ``background.safetensors`` (two embeddings per training writer) and
    a calibration fused with each signer's own classifier (``writer_dependent``).
    ``embedded``: a folder of embeddings this model already made (``<dataset>_<split>.npz`` and
    ``background.npz``, as ``benchmarks/per_references.py embed`` writes them under
    ``var/emb/<sha256[:12]>/``), used instead of embedding those writers again."""

    datasets: tuple[str, ...]
    split_file: str
    split: str = "test"
    swap_check: str | None = None
    capture_checks: tuple[tuple[str, str], ...] = ()
    leave_one_out: tuple[tuple[str, str], ...] = ()
    signer_classifier: bool = False
    embedded: str | None = None
    onnx: bool = False  # also export model.onnx and a checked int8 file (``sigverify.onnx_export``)
    cheques: bool = False  # also score signatures cut from generated cheques: a cheque pair (``cheque_scores``)


@dataclass
class Publication:
    """One publish run: the source model, the card being completed and the figures measured so far."""

    model_dir: Path
    target: Path
    options: PublishOptions
    log: Callable[[str], object]
    card: ModelCard
    verifier: Verifier
    background: np.ndarray | None = None
    validation: dict = field(default_factory=dict)  # dataset -> (embeddings, groups) of its val writers
    scores: StoredScores | None = None
    held_out: dict = field(default_factory=dict)  # "<dataset>_R<r>" -> compact report
    capture: dict = field(default_factory=dict)  # "<dataset>-<capture>_R<r>" -> compact report
    protocols: dict = field(default_factory=dict)  # the same keys -> ProtocolScores
    metrics: dict = field(default_factory=dict)  # the card's metrics to replace

    def embedded_split(self, data, split: str) -> tuple:
        """(embeddings, groups) of ``data``'s ``split`` writers: stored ones when given, else embedded now."""
        stored = self.options.embedded and Path(self.options.embedded) / f"{figures.dataset_name(data)}_{split}.npz"
        if stored and stored.is_file():
            return load_embedded(stored)
        return embed_split(self.verifier, data, "folders", self.options.split_file, split)


def publish(model_dir, target, options: PublishOptions, log=print) -> ModelCard:
    """Measure ``model_dir`` as ``options`` say and ship it to ``target``; the card as written."""
    model_dir, target = Path(model_dir), Path(target)
    card = ModelCard.read(model_dir)
    if options.embedded is not None and Path(options.embedded).name != (card.sha256 or "")[:12]:
        raise ValueError(
            f"{options.embedded} holds another model's embeddings (its folder is named by their sha256[:12])"
        )
    run = Publication(model_dir, target, options, log, card, Verifier.from_dir(model_dir, precision="fp32"))
    target.mkdir(parents=True, exist_ok=True)
    for step in STEPS:
        step(run)
    return run.card


def ship_background(run: Publication) -> None:
    """The training writers' embeddings a signer classifier is fitted against, or none (file removed)."""
    options, card = run.options, run.card
    if not options.signer_classifier:
        card.background = None
        (run.target / BACKGROUND_FILE).unlink(missing_ok=True)
        return
    stored = Path(options.embedded) / "background.npz" if options.embedded else None
    if stored and stored.is_file():
        with np.load(stored) as data:
            run.background, writers = data["embeddings"], sorted(set(data["writers"].tolist()))
    else:
        run.background, writers = figures.training_background(run.verifier, options.datasets, options.split_file)
    card.background = Background.model_validate(write_background(run.target, run.background, writers))
    run.log(
        f"background: {len(run.background)} embeddings of {len(writers)} training writers -> {card.background.file}"
    )


def calibrate_per_reference(run: Publication) -> None:
    """The calibration fitted again per R on every dataset's validation writers (the priors kept)."""
    for data in run.options.datasets:
        name = figures.dataset_name(data)
        try:
            run.validation[name] = run.embedded_split(data, "val")
        except DatasetError:
            run.log(f"{name}: no validation writers in {run.options.split_file}; its scores are not stored")
    if not run.validation:
        return
    scorer = ev.fit_scorer_by_references(
        *figures.pooled(run.validation), run.verifier.scorer, background=run.background
    )
    run.verifier.scorer = scorer
    run.card.scoring = Scoring.model_validate(scorer.to_dict())
    run.log(
        f"calibration fitted per R ({', '.join(scorer.by_references)}) on {len(run.validation)} datasets' validation writers"
    )


def _buckets() -> list[int]:
    return sorted(set(REFERENCE_BUCKETS) | set(figures.REFERENCE_COUNTS))


def measure_held_out(run: Publication) -> None:
    """Every dataset's validation and test scores per R, and the test writers' figures at the card's R."""
    verifier, options = run.verifier, run.options
    run.scores = StoredScores(references=ev.THRESHOLD_REFERENCES, model_sha256=run.card.sha256)
    for name, (embeddings, groups) in run.validation.items():
        for r in _buckets():
            ps = ev.protocol_scores(embeddings, groups, r, verifier.scorer, run.background)
            if ps.genuine:  # a writer had a query left at this R
                run.scores.add("val", name, ps, verifier.scorer)
    for data in options.datasets:
        name = figures.dataset_name(data)
        embeddings, groups = run.embedded_split(data, options.split)
        for r in _buckets():
            ps = ev.protocol_scores(embeddings, groups, r, verifier.scorer, run.background)
            if ps.genuine:
                run.scores.add("test", name, ps, verifier.scorer)
            if r not in figures.REFERENCE_COUNTS or not ps.genuine:
                continue
            plot = run.target / f"roc_{name}_R{r}.png" if r == PLOT_REFERENCES else None
            report = evaluation_report(verifier, ps, data, "folders", options.split_file, options.split, plot_path=plot)
            run.held_out[f"{name}_R{r}"] = figures.compact(report)
            run.protocols[f"{name}_R{r}"] = ps
            run.log(
                f"{name} R={r}: skilled EER {report['skilled']['eer']:.4f} (per-writer {report['user_threshold_eer_skilled']:.4f})"
                f", random EER {report['random']['eer']:.4f}, writers {report['writers']}"
            )
    run.metrics["held_out_split"] = HeldOutSplit(split=options.split, split_file=Path(options.split_file).name)


def measure_captures(run: Publication) -> None:
    """The test writers' figures with their images turned into another capture first."""
    verifier, options = run.verifier, run.options
    for data, capture in options.capture_checks:
        name = figures.dataset_name(data)
        embeddings, groups = embed_split(verifier, data, "folders", options.split_file, options.split, capture=capture)
        ps = ev.protocol_scores(embeddings, groups, ev.THRESHOLD_REFERENCES, verifier.scorer, run.background)
        key = f"{name}-{capture}_R{ev.THRESHOLD_REFERENCES}"
        report = evaluation_report(verifier, ps, data, "folders", options.split_file, options.split)
        run.capture[key] = figures.compact(report)
        run.protocols[key] = ps
        run.log(f"{key}: skilled EER {run.capture[key]['skilled']['eer']:.4f}")


def measure_background_swap(run: Publication) -> None:
    """The skilled EER again with the paper repainted (genuine white, forgeries grey)."""
    data, options = run.options.swap_check, run.options
    if not data:
        return
    r = PLOT_REFERENCES
    normal = run.held_out[f"{figures.dataset_name(data)}_R{r}"]["skilled"]["eer"]
    swapped = run_evaluation(
        data,
        "folders",
        run.model_dir,
        references=r,
        split_file=options.split_file,
        split=options.split,
        swap_background=True,
    )["skilled"]["eer"]
    run.metrics["background_swap"] = BackgroundSwap(
        dataset=Path(data).name,
        skilled_eer=normal,
        skilled_eer_swapped=swapped,
        delta_points=round(100 * (swapped - normal), 3),
    )
    run.log(f"background swap on {Path(data).name}: EER {normal:.4f} -> {swapped:.4f}")


def measure_leave_one_out(run: Publication) -> None:
    options = run.options
    if options.leave_one_out:
        run.metrics["leave_one_dataset_out"] = [
            LeaveOneOut.model_validate(figures.leave_one_out(other, data, options.split_file, options.split, run.log))
            for other, data in options.leave_one_out
        ]


def measure_cheques(run: Publication) -> None:
    """Signatures cut from generated whole cheques, scored as the service scores a crop it finds
    (``cheque_scores``): ``ship_scores`` then fits the cheque pair from the validation writers' ones."""
    if not run.options.cheques or run.scores is None:
        return
    add_cheque_scores(
        run.scores,
        run.verifier,
        run.options.datasets,
        run.options.split_file,
        ChequeProtocol(references=run.scores.references),
        background=run.background,
        log=run.log,
    )


def refit_on_cheques(model_dir, datasets, split_file, protocol: ChequeProtocol | None = None, log=print) -> ModelCard:
    """A published model's scores file given cheque scores (``measure_cheques``) and its card's
    thresholds fitted again from it at the default policy (the cheque pair added; the other pairs
    come out as before): no retraining, nothing else in the card changes."""
    model_dir = Path(model_dir)
    card = ModelCard.read(model_dir)
    scores = scores_for_card(model_dir, card)
    if scores is None:
        raise ValueError(f"{model_dir} ships no validation scores: publish it first (sigverify publish)")
    verifier = Verifier.from_dir(model_dir, precision="fp32")
    protocol = protocol or ChequeProtocol(references=scores.references)
    add_cheque_scores(
        scores, verifier, datasets, split_file, protocol, background=load_background(model_dir, card), log=log
    )
    sha256 = write_scores_and_thresholds(card, model_dir, scores)
    card.scores = card.scores.model_copy(update={"sha256": sha256})
    card.write(model_dir)
    write_markdown(card, model_dir)
    cheque = card.thresholds.cheque
    log(
        f"cheque pair (default policy): accept {cheque.accept:.4g}, reject {cheque.reject:.4g}"
        if cheque
        else "no cheque pair"
    )
    return card


def write_scores_and_thresholds(card: ModelCard, target: Path, scores: StoredScores) -> str:
    """Write ``scores.json`` into ``target`` and set the card's thresholds to the default policy's,
    computed from the file as written by the function the service uses for any policy (so the card
    and a policy of 1% / 1% always agree). Returns the file's sha256."""
    sha256 = scores.write(target)
    shipped = StoredScores.read(Path(target) / SCORES_FILE, sha256=sha256)
    card.thresholds = Thresholds.model_validate(
        {**card.thresholds.model_dump(exclude_unset=True), **thresholds_for(shipped, Policy())}
    )
    return sha256


def ship_scores(run: Publication) -> None:
    """The calibrated scores beside the weights, and the card's thresholds the default policy's."""
    card, target, scores = run.card, run.target, run.scores
    if not (len(scores.pooled("val", "genuine")) and len(scores.pooled("val", "skilled"))):
        card.scores = None
        (target / SCORES_FILE).unlink(missing_ok=True)  # an older model's scores must not outlive it
        run.log("no validation scores: the card keeps the training thresholds and its policy cannot be changed")
        return
    sha256 = write_scores_and_thresholds(card, target, scores)
    card.scores = ScoresFile(
        file=SCORES_FILE,
        sha256=sha256,
        references=scores.references,
        splits={s: scores.datasets(s) for s in ("val", "test")},
        reference_counts=scores.buckets,
    )
    run.log(
        f"validation and test scores -> {target / SCORES_FILE}; default policy (1% / 1%): accept "
        f"{card.thresholds.accept:.4f}, reject {card.thresholds.reject:.4f}"
    )


def record_decisions(run: Publication) -> None:
    """What a bank sees at the shipped points, per dataset: known only once the thresholds are."""
    card = run.card
    for key, ps in run.protocols.items():
        pair = card.thresholds_at(ps.references)
        (run.held_out.get(key) or run.capture[key])["decisions"] = ev.decision_rates(
            ps, run.verifier.scorer, pair.accept, pair.reject
        )
    run.metrics["held_out"] = {k: Evaluation.model_validate(v) for k, v in run.held_out.items()}
    if run.options.capture_checks:
        run.metrics["capture"] = {k: Evaluation.model_validate(v) for k, v in run.capture.items()}
    else:  # kept from the source card: the EERs still hold, decisions at other thresholds do not
        run.metrics["capture"] = {k: e.model_copy(update={"decisions": None}) for k, e in card.metrics.capture.items()}
    card.metrics = card.metrics.model_copy(update=run.metrics)


def ship_weights(run: Publication) -> None:
    """The weights copied beside the card (``.part`` then rename), checked against the card's sha256."""
    card, target = run.card, run.target
    tmp = target / (WEIGHTS_FILE + ".part")
    shutil.copyfile(run.model_dir / card.weights_file, tmp)
    if sha256_file(tmp) != card.sha256:
        raise ValueError(f"{run.model_dir / card.weights_file} does not match its card's sha256")
    os.replace(tmp, target / WEIGHTS_FILE)
    card.weights_file = WEIGHTS_FILE
    card.plots = sorted(p.name for p in target.glob(f"roc_*_R{PLOT_REFERENCES}.png"))


def write_card(run: Publication) -> None:
    """``model_card.json`` (checked to be a valid card first) and ``MODEL_CARD.md``."""
    written = run.card.to_dict()
    for optional in ("scores", "background"):
        if written.get(optional) is None:
            written.pop(optional, None)
    written.pop("onnx", None)  # ONNX files are derived from the weights shipped, again (``ship_onnx``)
    run.card = ModelCard.parse(written, source="the published card")
    run.card.write(run.target)
    write_markdown(run.card, run.target)


def ship_onnx(run: Publication) -> None:
    """``model.onnx`` and a checked int8 file beside the weights, when asked for (``options.onnx``)."""
    if not run.options.onnx:
        return
    options = run.options
    run.card = export_onnx(
        run.target,
        datasets=options.datasets,
        split_file=options.split_file,
        split=options.split,
        int8=True,
        log=run.log,
    )
    write_markdown(run.card, run.target)


def write_markdown(card: ModelCard, target: Path) -> None:
    """``MODEL_CARD.md`` for people, written atomically."""
    part = Path(target) / (MARKDOWN_FILE + ".part")
    part.write_text(render_markdown(card))
    os.replace(part, Path(target) / MARKDOWN_FILE)


STEPS: tuple[Callable[[Publication], None], ...] = (
    ship_background,
    calibrate_per_reference,
    measure_held_out,
    measure_captures,
    measure_background_swap,
    measure_leave_one_out,
    measure_cheques,
    ship_scores,
    record_decisions,
    ship_weights,
    write_card,
    ship_onnx,
)
