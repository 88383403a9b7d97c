"""``sigverify publish``: evaluate a trained model dir on held-out writers and ship it.

Copies the weights into the target dir (``.part`` then rename), adds the held-out figures,
plots and the background-swap check to the card, stores the calibrated validation and test scores
(``scores.json``, its sha256 in the card) from which any operating policy's thresholds follow, sets
the card's thresholds to the default policy's (1% / 1%) and renders ``MODEL_CARD.md``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from . import evaluate as ev
from .card import (
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
from .errors import DatasetError
from .inference import Verifier
from .onnx_export import export_onnx
from .onnx_export import markdown_lines as onnx_markdown_lines
from .policy import SCORES_FILE, Policy, StoredScores, thresholds_for
from .report import embed_split, evaluation_report, load_embedded, run_evaluation
from .scoring import REFERENCE_BUCKETS
from .weights import sha256_file
from .writer_dependent import BACKGROUND_FILE, BACKGROUND_PER_WRITER, write_background

# The R the card's tables show; the scores file and the thresholds cover every R of REFERENCE_BUCKETS.
REFERENCE_COUNTS = (1, 2, 3, 5, 10)


def publish(
    model_dir,
    target,
    datasets: list[str],
    split_file: str,
    split: str = "test",
    swap_check: str | None = None,
    log=print,
    capture_checks=(),
    leave_one_out=(),
    signer_classifier: bool = False,
    embedded=None,
    onnx: bool = False,
) -> ModelCard:
    """``capture_checks``: (dataset dir, capture) pairs measured as ``metrics.capture``;
    ``leave_one_out``: (model dir trained without one dataset, that dataset's dir) pairs;
    ``signer_classifier``: ship ``background.safetensors`` (two embeddings per training writer) and
    a calibration fused with each signer's own classifier (``writer_dependent``).

    The calibration is fitted again per R (``REFERENCE_BUCKETS``) on the validation writers of every
    dataset (the score model's priors kept), and the thresholds per R follow from their scores.

    ``embedded``: a folder of embeddings this model already made (``<dataset>_<split>.npz`` and
    ``background.npz``, as ``benchmarks/per_references.py embed`` writes them under
    ``var/emb/<sha256[:12]>/``), used instead of embedding those writers again. Without
    ``capture_checks`` the source card's capture figures are kept, less their decisions (made at
    other thresholds).

    ``onnx``: also export ``model.onnx`` and a checked int8 file (``sigverify.onnx_export``)."""
    model_dir, target = Path(model_dir), Path(target)
    card = ModelCard.read(model_dir)
    verifier = Verifier.from_dir(model_dir, precision="fp32")
    target.mkdir(parents=True, exist_ok=True)
    if embedded is not None and Path(embedded).name != (card.sha256 or "")[:12]:
        raise ValueError(f"{embedded} holds another model's embeddings (its folder is named by their sha256[:12])")

    def embedded_split(data, split):
        stored = Path(embedded) / f"{Path(data).resolve().name.lower()}_{split}.npz" if embedded else None
        if stored is not None and stored.is_file():
            return load_embedded(stored)
        return embed_split(verifier, data, "folders", split_file, split)

    background = None
    if signer_classifier and embedded and (Path(embedded) / "background.npz").is_file():
        with np.load(Path(embedded) / "background.npz") as stored:
            background, writers = stored["embeddings"], sorted(set(stored["writers"].tolist()))
    elif signer_classifier:
        background, writers = training_background(verifier, datasets, split_file)
    if signer_classifier:
        card.background = Background.model_validate(write_background(target, background, writers))
        log(f"background: {len(background)} embeddings of {len(writers)} training writers -> {card.background.file}")
    else:
        card.background = None
        (target / BACKGROUND_FILE).unlink(missing_ok=True)
    val = {}
    for data in datasets:
        name = Path(data).resolve().name.lower()
        try:
            val[name] = embedded_split(data, "val")
        except DatasetError:
            log(f"{name}: no validation writers in {split_file}; its scores are not stored")
    if val:
        verifier.scorer = ev.fit_scorer_by_references(*_pooled(val), verifier.scorer, background=background)
        card.scoring = Scoring.model_validate(verifier.scorer.to_dict())
        log(
            f"calibration fitted per R ({', '.join(verifier.scorer.by_references)}) on {len(val)} datasets' validation writers"
        )
    buckets = sorted(set(REFERENCE_BUCKETS) | set(REFERENCE_COUNTS))
    scores = StoredScores(references=ev.THRESHOLD_REFERENCES, model_sha256=card.sha256)
    for name, (embeddings, groups) in val.items():
        for r in buckets:
            ps = ev.protocol_scores(embeddings, groups, r, verifier.scorer, background)
            if ps.genuine:  # a writer had a query left at this R
                scores.add("val", name, ps, verifier.scorer)
    held_out, held_out_capture, protocols = {}, {}, {}
    for data in datasets:
        name = Path(data).resolve().name.lower()
        embeddings, groups = embedded_split(data, split)
        for r in buckets:
            ps = ev.protocol_scores(embeddings, groups, r, verifier.scorer, background)
            if ps.genuine:
                scores.add("test", name, ps, verifier.scorer)
            if r not in REFERENCE_COUNTS or not ps.genuine:
                continue
            plot = target / f"roc_{name}_R{r}.png" if r == 5 else None
            report = evaluation_report(verifier, ps, data, "folders", split_file, split, plot_path=plot)
            held_out[f"{name}_R{r}"] = _compact(report)
            protocols[f"{name}_R{r}"] = ps
            log(
                f"{name} R={r}: skilled EER {report['skilled']['eer']:.4f} (per-writer {report['user_threshold_eer_skilled']:.4f})"
                f", random EER {report['random']['eer']:.4f}, writers {report['writers']}"
            )
    for data, capture in capture_checks:
        name = Path(data).resolve().name.lower()
        embeddings, groups = embed_split(verifier, data, "folders", split_file, split, capture=capture)
        ps = ev.protocol_scores(embeddings, groups, ev.THRESHOLD_REFERENCES, verifier.scorer, background)
        key = f"{name}-{capture}_R{ev.THRESHOLD_REFERENCES}"
        held_out_capture[key] = _compact(evaluation_report(verifier, ps, data, "folders", split_file, split))
        protocols[key] = ps
        log(f"{key}: skilled EER {held_out_capture[key]['skilled']['eer']:.4f}")
    update = {"held_out_split": HeldOutSplit(split=split, split_file=Path(split_file).name)}
    if swap_check:
        normal = held_out[f"{Path(swap_check).resolve().name.lower()}_R5"]["skilled"]["eer"]
        swapped = run_evaluation(
            swap_check, "folders", model_dir, references=5, split_file=split_file, split=split, swap_background=True
        )
        update["background_swap"] = BackgroundSwap(
            dataset=Path(swap_check).name,
            skilled_eer=normal,
            skilled_eer_swapped=swapped["skilled"]["eer"],
            delta_points=round(100 * (swapped["skilled"]["eer"] - normal), 3),
        )
        log(f"background swap on {Path(swap_check).name}: EER {normal:.4f} -> {swapped['skilled']['eer']:.4f}")
    if leave_one_out:
        update["leave_one_dataset_out"] = [
            LeaveOneOut.model_validate(_leave_one_out(other, data, split_file, split, log))
            for other, data in leave_one_out
        ]

    if len(scores.pooled("val", "genuine")) and len(scores.pooled("val", "skilled")):
        sha256 = scores.write(target)
        # The default policy's thresholds from the file as shipped, through the function the service
        # uses for any policy, so the card and a policy of 1% / 1% always agree.
        shipped = StoredScores.read(target / SCORES_FILE, sha256=sha256)
        card.thresholds = Thresholds.model_validate(
            {**card.thresholds.model_dump(exclude_unset=True), **thresholds_for(shipped, Policy())}
        )
        card.scores = ScoresFile(
            file=SCORES_FILE,
            sha256=sha256,
            references=scores.references,
            splits={s: scores.datasets(s) for s in ("val", "test")},
            reference_counts=scores.buckets,
        )
        log(
            f"validation and test scores -> {target / SCORES_FILE}; default policy (1% / 1%): accept "
            f"{card.thresholds.accept:.4f}, reject {card.thresholds.reject:.4f}"
        )
    else:
        card.scores = None
        (target / SCORES_FILE).unlink(missing_ok=True)  # an older model's scores must not outlive it
        log("no validation scores: the card keeps the training thresholds and its policy cannot be changed")
    # What a bank sees at the shipped points, per dataset: known only once the thresholds are.
    for key, ps in protocols.items():
        figures = held_out.get(key) or held_out_capture[key]
        pair = card.thresholds_at(ps.references)
        figures["decisions"] = ev.decision_rates(ps, verifier.scorer, pair.accept, pair.reject)
    update["held_out"] = {k: Evaluation.model_validate(v) for k, v in held_out.items()}
    if capture_checks:
        update["capture"] = {k: Evaluation.model_validate(v) for k, v in held_out_capture.items()}
    else:  # kept from the source card: the EERs still hold, decisions at other thresholds do not
        update["capture"] = {k: e.model_copy(update={"decisions": None}) for k, e in card.metrics.capture.items()}
    card.metrics = card.metrics.model_copy(update=update)
    tmp = target / (WEIGHTS_FILE + ".part")
    shutil.copyfile(model_dir / card.weights_file, tmp)
    if sha256_file(tmp) != card.sha256:
        raise ValueError(f"{model_dir / card.weights_file} does not match its card's sha256")
    os.replace(tmp, target / WEIGHTS_FILE)
    card.weights_file = WEIGHTS_FILE
    card.plots = sorted(p.name for p in target.glob("roc_*_R5.png"))
    written = card.to_dict()
    for optional in ("scores", "background"):
        if written.get(optional) is None:
            written.pop(optional, None)
    written.pop("onnx", None)  # ONNX files are derived from the weights shipped, again (``onnx``)
    card = ModelCard.parse(written, source="the published card")  # what is written is a valid card
    card.write(target)
    if onnx:
        card = export_onnx(target, datasets=datasets, split_file=split_file, split=split, int8=True, log=log)
    part = target / "MODEL_CARD.md.part"
    part.write_text(render_markdown(card))
    os.replace(part, target / "MODEL_CARD.md")
    return card


def training_background(verifier: Verifier, datasets, split_file) -> tuple:
    """(embeddings, writer keys): the first ``BACKGROUND_PER_WRITER`` genuine signatures of every
    training writer of ``datasets``, by sample number."""
    from itertools import groupby, islice

    from .datasets import load_dataset
    from .pairs import read_splits, writer_key
    from .report import embed_dataset

    splits = read_splits(split_file)
    parts, writers = [], []
    for data in datasets:
        name = Path(data).resolve().name.lower()
        root, samples = load_dataset(data)
        chosen = sorted(
            (s for s in samples if s.is_genuine and splits.get(writer_key(name, s.writer)) == "train"),
            key=lambda s: (s.writer, s.sample),
        )
        kept = [s for _, g in groupby(chosen, key=lambda s: s.writer) for s in islice(g, BACKGROUND_PER_WRITER)]
        if not kept:
            continue
        embeddings, embedded = embed_dataset(verifier, kept, root)
        parts.append(embeddings)
        writers += sorted({f"{name}/{s.writer}" for s in embedded})
    if not parts:
        raise DatasetError(f"no training writer in {split_file}: the signer classifier has no background")
    return np.concatenate(parts), writers


def _pooled(by_dataset: dict) -> tuple:
    """Every dataset's (embeddings, groups) as one, writers keyed ``dataset/writer``."""
    parts, groups, offset = [], {}, 0
    for name, (embeddings, g) in sorted(by_dataset.items()):
        for writer, labels in g.items():
            groups[f"{name}/{writer}"] = {k: [i + offset for i in idx] for k, idx in labels.items()}
        parts.append(embeddings)
        offset += len(embeddings)
    return np.concatenate(parts), groups


def _leave_one_out(model_dir, data, split_file, split, log) -> dict:
    """The left-out dataset's test writers under a model trained without it (its own calibration)."""
    other = ModelCard.read(model_dir)
    name = Path(data).resolve().name.lower()
    trained_on = sorted({Path(d).name.lower() for d in other.data.datasets})
    if name in trained_on:
        raise ValueError(f"{model_dir} was trained on {name}: it cannot measure leaving it out")
    verifier = Verifier.from_dir(model_dir, precision="fp32")
    embeddings, groups = embed_split(verifier, data, "folders", split_file, split)
    held_out = {}
    for r in REFERENCE_COUNTS:
        ps = ev.protocol_scores(embeddings, groups, r, verifier.scorer)
        if not ps.genuine:
            continue  # no writer has a query left at this R
        held_out[f"R{r}"] = _compact(evaluation_report(verifier, ps, data, "folders", split_file, split))
        log(f"leave out {name}, R={r}: skilled EER {held_out[f'R{r}']['skilled']['eer']:.4f}")
    return {"left_out": name, "trained_on": trained_on, "model_sha256": other.sha256, "held_out": held_out}


def _compact(report: dict) -> dict:
    keys = (
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
        "decisions",
    )
    return {k: report[k] for k in keys}


def _pct(x) -> str:
    return "n/a" if x is None or x != x else f"{100 * x:.2f}%"


def _or(value, default):
    return default if value is None else value


def _num(x, spec: str = ".4f") -> str:
    return "n/a" if x is None or x != x else format(x, spec)


def _per_reference_lines(card: ModelCard) -> list[str]:
    """The operating points per R, and the signer classifier's background, where the card has them."""
    by = card.thresholds.by_references
    if not by:
        return ["- These points hold for every number of references (the card has no points per R)."]
    calibration = (card.scoring.by_references or {}) if card.scoring else {}
    lines = [
        "",
        "Operating points per number of references R (the default policy held on every dataset's validation "
        "writers at each R; a signer with R references uses the largest R below or equal to theirs):",
        "",
        "| R | accept | reject | calibration (coef on -z, intercept"
        + (", classifier weight)" if card.background else ")")
        + " |",
        "| --- | --- | --- | --- |",
    ]
    for r in sorted(by, key=int):
        c = calibration.get(r)
        fit = "n/a"
        if c is not None:
            f = c.fused if card.background and c.fused else None
            fit = f"{f.coef:.3f}, {f.intercept:.3f}, {f.wd_coef:.3f}" if f else f"{c.coef:.3f}, {c.intercept:.3f}"
        lines.append(f"| {r} | {by[r].accept:.4f} | {by[r].reject:.4f} | {fit} |")
    if card.background:
        b = card.background
        lines += [
            "",
            f"Each signer's own classifier (a linear SVM on the embeddings) is fitted on their references against "
            f"the bank's other signers and `{b.file}` ({b.embeddings} embeddings, {b.per_writer} per training "
            f"writer of {b.writers}; sha256 `{b.sha256[:16]}...`); its margin enters the calibrated score.",
        ]
    return lines


def _whole_cheque_lines(figures: dict | None) -> list[str]:
    """The card's ``whole_cheques`` figures (``benchmarks/whole_cheques.py --card``) as a table."""
    if not figures or not figures.get("rows"):
        return []
    lines = [
        "",
        "## Whole cheques (generated, held-out layouts, test writers, R=5 clean references)",
        "",
        f"Layouts {', '.join(figures.get('layouts', []))}; signature finder sha256 "
        f"`{str(figures.get('finder_sha256', ''))[:12]}`. Box found: IoU >= 0.5 with the written signature. "
        "Decisions with the proposed box on the cheque, and (crop) the same signatures as clean crops.",
        "",
        "| data | capture | cheques | box found | ms / cheque | forgeries accepted | genuine rejected | automated |"
        " automated (crop) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in figures["rows"]:
        cheque, crop = row["cheque"], row["clean_crop"]
        lines.append(
            f"| {row['dataset']} | {row['capture']} | {row['cheques']} | {_pct(row['box_found'])} |"
            f" {row['proposal_ms_mean']:.0f} | {_pct(cheque['forgeries_accepted'])} | {_pct(cheque['genuine_rejected'])} |"
            f" {_pct(cheque['automated'])} | {_pct(crop['automated'])} |"
        )
    lines += ["", f"Measured with `{figures.get('command', 'benchmarks/whole_cheques.py')}`."]
    return lines


def render_markdown(card: ModelCard | dict) -> str:
    card = card if isinstance(card, ModelCard) else ModelCard.parse(card)
    recipe = card.recipe.model_dump() if card.recipe else {}
    thresholds = card.thresholds
    lines = [
        f"# Model card: {card.name} ({card.version})",
        "",
        f"- **Weights:** `{card.weights_file}` (safetensors), sha256 `{card.sha256}`",
        f"- **Architecture:** {card.architecture}; embedding {card.embedding_dim}-d",
        f"- **Input:** {card.input_size[0]}x{card.input_size[1]} (HxW), preprocessing version "
        f"{card.preprocess_version} (greyscale, median denoise, Otsu, background removed, ink crop, "
        "aspect-kept padding, resize, ink bright on zero)",
        "",
        "## Data",
        "",
        f"Datasets: {', '.join(Path(d).name for d in card.data.datasets)}. "
        "Writers are split per dataset, never per sample (splits in `image_pairs/splits.csv`, seed 0):",
        "",
    ]
    for split, writers in sorted(card.data.writers.items()):
        lines.append(f"- {split}: {len(writers)} writers")
    lines += [
        "",
        "## Recipe",
        "",
        f"- Loss: {recipe.get('loss')} (a writer's skilled forgeries are its negatives) + "
        f"{recipe.get('writer_weight')} x CosFace writer classification + {recipe.get('forgery_weight')} x "
        "genuine/forged head (SigNet-F style)",
        f"- Batches of {recipe.get('writers_per_batch')} writers x ({recipe.get('genuine_per_writer')} genuine + "
        f"{recipe.get('forged_per_writer')} forged); AdamW lr {recipe.get('lr')}, warm-up + cosine; augmentation: "
        "rotation, scale, shift, shear, stroke width, ink intensity"
        + (", random binarisation, lower resolution, blur" if recipe.get("capture_augment") else "")
        + ("; every batch's writers drawn evenly from each dataset" if recipe.get("balance_datasets") else "")
        + (f"; warm start from `{recipe['init_from']}`" if recipe.get("init_from") else ""),
        f"- Epochs run: {recipe.get('epochs_run')} of {recipe.get('epochs')} (best epoch {recipe.get('best_epoch')}, "
        f"early stopping on validation skilled EER), {recipe.get('training_seconds')} s on {recipe.get('device')} "
        f"(bf16 autocast: {recipe.get('bf16_autocast')})",
        *([f"- Notes: {recipe['training_notes']}"] if recipe.get("training_notes") else []),
        f"- Input size: {card.input_size[0]}x{card.input_size[1]}, the aspect ratio kept and padded (CEDAR's "
        "signatures are about 1.6:1, BHSig260's about 3.4:1); the sizes measured are in "
        "model_notebooks/RECIPE_EXPERIMENTS.md.",
        "",
        "## Scoring",
        "",
        "Mean cosine distance from the questioned signature to the references, z-normalised by the mean and "
        "spread of the reference-to-reference distances (shrunk towards population values for few references), "
        "mapped to [0, 1] by a logistic calibration fitted on validation writers. Higher = more likely genuine.",
        "",
        "## Operating points (calibrated score, fitted on validation writers, R=5)",
        "",
        f"- `accept` = {thresholds.accept:.4f}: at or above, **genuine** "
        f"({_pct(_or(thresholds.accept_far_skilled, 0.01))} FAR on skilled forgeries)",
        f"- `reject` = {thresholds.reject:.4f}: below, **forgery** ({_pct(_or(thresholds.reject_frr, 0.01))} FRR)",
        "- between the two: **refer** to a supervisor",
        f"- `eer` = {thresholds.eer:.4f}: the single threshold at equal error rate",
        *(
            [
                f"- A bank chooses its own targets (the operating policy, 0.1-5% each); the thresholds then follow "
                f"from the validation scores in `{card.scores.file}` (sha256 `{card.scores.sha256[:16]}...`)."
            ]
            if card.scores
            else []
        ),
        *_per_reference_lines(card),
        "",
        "## Held-out writers (never seen in training or validation)",
        "",
        "| data | R | writers | skilled EER (global) | skilled EER (per-writer) | skilled AUC | random EER | FRR / FAR skilled at `eer` |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in card.metrics.test_figures():
        m = row.evaluation
        at = m.at_threshold
        lines.append(
            f"| {row.dataset} | {row.references} | {m.writers} | {_pct(m.skilled.eer)} | "
            f"{_pct(m.user_threshold_eer_skilled)} | "
            f"{_num(m.skilled.auc)} | {_pct(m.random.eer)} | "
            f"{_pct(at.frr if at else None)} / {_pct(at.far_skilled if at else None)} |"
        )
    if any(row.evaluation.decisions for row in card.metrics.test_figures()):
        lines += [
            "",
            "## Per dataset and number of references (test writers, each R at its own `accept` / `reject`)",
            "",
            "| data | R | skilled EER | random EER | forgeries accepted at `accept` | genuine rejected at `reject` "
            "| automated |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in card.metrics.test_figures():
            m, d = row.evaluation, row.evaluation.decisions
            if d:
                lines.append(
                    f"| {row.dataset} | {row.references} | {_pct(m.skilled.eer)} | {_pct(m.random.eer)} | "
                    f"{_pct(d.far_skilled_at_accept)} | {_pct(d.frr_at_reject)} | {_pct(d.automated)} |"
                )
    decided = [(f"{row.dataset}", row.references, row.evaluation) for row in card.metrics.test_figures()]
    decided += [(key.rsplit("_R", 1)[0], e.references, e) for key, e in sorted(card.metrics.capture.items())]
    if any(e.decisions for _, _, e in decided):
        lines += [
            "",
            "## Decisions at the shipped `accept` / `reject` (test writers)",
            "",
            "What a bank sees: forgeries decided genuine, genuine decided forgery, and the share referred to a "
            "human (of all queries; in brackets, of genuine and skilled queries only).",
            "",
            "| data | R | skilled decided genuine | random decided genuine | genuine decided forgery | referred | automated |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, references, e in decided:
            d = e.decisions
            if d:
                lines.append(
                    f"| {name} | {references} | {_pct(d.far_skilled_at_accept)} | {_pct(d.far_random_at_accept)} | "
                    f"{_pct(d.frr_at_reject)} | {_pct(d.referred)} ({_pct(d.referred_questioned)}) | {_pct(d.automated)} |"
                )
    for lodo in card.metrics.leave_one_dataset_out:
        lines += [
            "",
            f"**Leave one dataset out.** A model trained on {', '.join(lodo.trained_on)} only (weights sha256 "
            f"`{(lodo.model_sha256 or '?')[:12]}…`), measured on the test writers of {lodo.left_out}:",
        ]
        for key, e in sorted(lodo.held_out.items()):
            lines.append(
                f"- {key}: skilled EER {_pct(e.skilled.eer)}, random EER {_pct(e.random.eer)}"
                + (
                    f", skilled decided genuine {_pct(e.decisions.far_skilled_at_accept)} at its own points"
                    if e.decisions
                    else ""
                )
            )
    swap = card.metrics.background_swap
    if swap:
        lines += [
            "",
            f"Background swap ({swap.dataset}, R=5): skilled EER {_pct(swap.skilled_eer)} -> "
            f"{_pct(swap.skilled_eer_swapped)} ({_num(swap.delta_points, '+.2f')} points).",
        ]
    lines += _whole_cheque_lines((card.model_extra or {}).get("whole_cheques"))
    lines += onnx_markdown_lines(card)
    for plot in card.plots:
        lines += ["", f"![{plot}]({plot})"]
    lines += ["", "Reproduce: see README.md, section 'Train and publish a model'.", ""]
    return "\n".join(lines)
