"""``MODEL_CARD.md``: the typed model card rendered for people.

Every figure, and every fact that could change with the code (the preprocessing steps, the
augmentations, the operating policy's default and range, the R of the operating points), is read
from the card or from the module that owns it; the sections below only arrange them. A section
whose figures the card lacks is left out.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

from .augment import AUGMENTATIONS, CAPTURE_AUGMENTATIONS
from .card import PLOT_REFERENCES, Evaluation, ModelCard
from .evaluate import THRESHOLD_REFERENCES
from .policy import DEFAULT_TARGET, TARGET_MAX, TARGET_MIN
from .preprocess import PREPROCESS_STEPS, PREPROCESS_VERSION

MARKDOWN_FILE = "MODEL_CARD.md"


def _pct(x) -> str:
    return "n/a" if x is None or x != x else f"{100 * x:.2f}%"


def _num(x, spec: str = ".4f") -> str:
    return "n/a" if x is None or x != x else format(x, spec)


def _target(x) -> str:
    return f"{100 * x:g}%"


HEADER = Template(
    """# Model card: $name ($version)

- **Weights:** `$weights_file` (safetensors), sha256 `$sha256`
- **Architecture:** $architecture; embedding $embedding_dim-d
- **Input:** ${height}x${width} (HxW), preprocessing version $preprocess_version$preprocessing"""
)


def header(card: ModelCard) -> list[str]:
    height, width = card.size
    steps = f" ({PREPROCESS_STEPS})" if card.preprocess_version == PREPROCESS_VERSION else ""
    return HEADER.substitute(
        card.model_dump(include={"name", "version", "weights_file", "sha256", "architecture", "embedding_dim"}),
        height=height,
        width=width,
        preprocess_version=card.preprocess_version,
        preprocessing=steps,
    ).split("\n")


def data(card: ModelCard) -> list[str]:
    lines = [
        "",
        "## Data",
        "",
        f"Datasets: {', '.join(Path(d).name for d in card.data.datasets)}. "
        "Writers are split per dataset, never per sample (splits in `image_pairs/splits.csv`, seed 0):",
        "",
    ]
    return lines + [f"- {split}: {len(writers)} writers" for split, writers in sorted(card.data.writers.items())]


def recipe(card: ModelCard) -> list[str]:
    r = card.recipe.model_dump() if card.recipe else {}
    height, width = card.size
    augmentations = AUGMENTATIONS + (CAPTURE_AUGMENTATIONS if r.get("capture_augment") else ())
    return [
        "",
        "## Recipe",
        "",
        f"- Loss: {r.get('loss')} (a writer's skilled forgeries are its negatives) + "
        f"{r.get('writer_weight')} x CosFace writer classification + {r.get('forgery_weight')} x "
        "genuine/forged head (SigNet-F style)",
        f"- Batches of {r.get('writers_per_batch')} writers x ({r.get('genuine_per_writer')} genuine + "
        f"{r.get('forged_per_writer')} forged); AdamW lr {r.get('lr')}, warm-up + cosine; augmentation: "
        + ", ".join(augmentations)
        + ("; every batch's writers drawn evenly from each dataset" if r.get("balance_datasets") else "")
        + (f"; warm start from `{r['init_from']}`" if r.get("init_from") else ""),
        f"- Epochs run: {r.get('epochs_run')} of {r.get('epochs')} (best epoch {r.get('best_epoch')}, "
        f"early stopping on validation skilled EER), {r.get('training_seconds')} s on {r.get('device')} "
        f"(bf16 autocast: {r.get('bf16_autocast')})",
        *([f"- Notes: {r['training_notes']}"] if r.get("training_notes") else []),
        f"- Input size: {height}x{width}, the aspect ratio kept and padded (CEDAR's "
        "signatures are about 1.6:1, BHSig260's about 3.4:1); the sizes measured are in "
        "model_notebooks/RECIPE_EXPERIMENTS.md.",
    ]


def scoring(card: ModelCard) -> list[str]:
    return [
        "",
        "## Scoring",
        "",
        "Mean cosine distance from the questioned signature to the references, z-normalised by the mean and "
        "spread of the reference-to-reference distances (shrunk towards population values for few references), "
        "mapped to [0, 1] by a logistic calibration fitted on validation writers. Higher = more likely genuine.",
    ]


def operating_points(card: ModelCard) -> list[str]:
    t = card.thresholds
    references = t.references or THRESHOLD_REFERENCES  # an older card's pair: fitted at the protocol's R
    far = DEFAULT_TARGET if t.accept_far_skilled is None else t.accept_far_skilled
    frr = DEFAULT_TARGET if t.reject_frr is None else t.reject_frr
    lines = [
        "",
        f"## Operating points (calibrated score, fitted on validation writers, R={references})",
        "",
        f"- `accept` = {t.accept:.4f}: at or above, **genuine** ({_pct(far)} FAR on skilled forgeries)",
        f"- `reject` = {t.reject:.4f}: below, **forgery** ({_pct(frr)} FRR)",
        "- between the two: **refer** to a supervisor",
        f"- `eer` = {t.eer:.4f}: the single threshold at equal error rate",
    ]
    if t.cheque:
        lines.append(
            f"- on a whole cheque (a signature the finder cut out): `accept` {t.cheque.accept:.4g}, `reject` "
            f"{t.cheque.reject:.4g}, fitted the same way on validation writers' signatures on generated cheques "
            "(training layouts; grey, thresholded and dithered), each never looser than its R's own pair"
        )
    if card.scores:
        lines.append(
            f"- A bank chooses its own targets (the operating policy, {_target(TARGET_MIN)[:-1]}-"
            f"{_target(TARGET_MAX)} each); the thresholds then follow from the validation scores in "
            f"`{card.scores.file}` (sha256 `{card.scores.sha256[:16]}...`)."
        )
    return lines


def per_reference(card: ModelCard) -> list[str]:
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


def held_out(card: ModelCard) -> list[str]:
    lines = [
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
    return lines


def per_dataset(card: ModelCard) -> list[str]:
    rows = [row for row in card.metrics.test_figures() if row.evaluation.decisions]
    if not rows:
        return []
    lines = [
        "",
        "## Per dataset and number of references (test writers, each R at its own `accept` / `reject`)",
        "",
        "| data | R | skilled EER | random EER | forgeries accepted at `accept` | genuine rejected at `reject` "
        "| automated |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        m, d = row.evaluation, row.evaluation.decisions
        lines.append(
            f"| {row.dataset} | {row.references} | {_pct(m.skilled.eer)} | {_pct(m.random.eer)} | "
            f"{_pct(d.far_skilled_at_accept)} | {_pct(d.frr_at_reject)} | {_pct(d.automated)} |"
        )
    return lines


def decisions(card: ModelCard) -> list[str]:
    decided: list[tuple[str, int | None, Evaluation]] = [
        (row.dataset, row.references, row.evaluation) for row in card.metrics.test_figures()
    ]
    decided += [(key.rsplit("_R", 1)[0], e.references, e) for key, e in sorted(card.metrics.capture.items())]
    decided = [(name, references, e) for name, references, e in decided if e.decisions]
    if not decided:
        return []
    lines = [
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
        lines.append(
            f"| {name} | {references} | {_pct(d.far_skilled_at_accept)} | {_pct(d.far_random_at_accept)} | "
            f"{_pct(d.frr_at_reject)} | {_pct(d.referred)} ({_pct(d.referred_questioned)}) | {_pct(d.automated)} |"
        )
    return lines


def leave_one_dataset_out(card: ModelCard) -> list[str]:
    lines = []
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
    return lines


def background_swap(card: ModelCard) -> list[str]:
    swap = card.metrics.background_swap
    if not swap:
        return []
    return [
        "",
        f"Background swap ({swap.dataset}, R={PLOT_REFERENCES}): skilled EER {_pct(swap.skilled_eer)} -> "
        f"{_pct(swap.skilled_eer_swapped)} ({_num(swap.delta_points, '+.2f')} points).",
    ]


def whole_cheques(card: ModelCard) -> list[str]:
    """The card's ``whole_cheques`` figures (``benchmarks/whole_cheques.py --card``) as a table."""
    figures = (card.model_extra or {}).get("whole_cheques")
    if not figures or not figures.get("rows"):
        return []
    lines = [
        "",
        "## Whole cheques (generated, held-out layouts, test writers, R=5 clean references)",
        "",
        f"Layouts {', '.join(figures.get('layouts', []))}; signature finder sha256 "
        f"`{str(figures.get('finder_sha256', ''))[:12]}`. Box found: IoU >= 0.5 with the written signature. "
        "Decisions with the proposed box on the cheque, and (crop) the same signatures as clean crops. "
        + (
            "A cheque's box is decided with the card's cheque pair (`thresholds.cheque`), as the service decides it;"
            ' "genuine scored under reject" is then the genuine rejected.'
            if figures.get("cheque_pair")
            else "A forgery call on a cheque's box decides (`SIGVERIFY_CHEQUE_FORGERY_DECIDES`)."
            if figures.get("forgery_decides")
            else 'A forgery call on a cheque\'s box is referred (the default); "genuine scored under reject" is the '
            "share of genuine signatures it would otherwise have rejected."
        ),
        "",
        "| data | capture | cheques | box found | ms / cheque | forgeries accepted | genuine rejected |"
        " genuine scored under reject | automated | automated (crop) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in figures["rows"]:
        cheque, crop = row["cheque"], row["clean_crop"]
        under = cheque.get("scored_forgery")
        lines.append(
            f"| {row['dataset']} | {row['capture']} | {row['cheques']} | {_pct(row['box_found'])} |"
            f" {row['proposal_ms_mean']:.0f} | {_pct(cheque['forgeries_accepted'])} | {_pct(cheque['genuine_rejected'])} |"
            f" {'-' if under is None else _pct(under)} | {_pct(cheque['automated'])} | {_pct(crop['automated'])} |"
        )
    machine = f" ({figures['machine']})" if figures.get("machine") else ""
    return lines + ["", f"Measured with `{figures.get('command', 'benchmarks/whole_cheques.py')}`{machine}."]


def onnx_files(card: ModelCard) -> list[str]:
    """The card's ONNX files as lines of ``MODEL_CARD.md``."""
    files = card.onnx
    if files is None or (files.fp32 is None and files.int8 is None):
        return []
    lines = [
        "",
        "## ONNX files (ONNX Runtime serving, `SIGVERIFY_INFERENCE`)",
        "",
        "Derived from the weights above (the source of truth), each checked against PyTorch before it is "
        "marked usable; serving checks the sha256 before loading.",
        "",
        "| file | sha256 | usable | max embedding difference | check |",
        "| --- | --- | --- | --- | --- |",
    ]
    for entry in (files.fp32, files.int8):
        if entry is None:
            continue
        check = entry.check
        worst = ""
        if check and check.datasets:
            eer = max(abs(c.eer_change_points or 0.0) for c in check.datasets.values())
            changed = max(c.decisions_changed or 0.0 for c in check.datasets.values())
            worst = f"skilled EER within {eer:.2f} points, decisions changed at most {100 * changed:.2f}%"
        diff = f"{check.max_abs_diff:.1e}" if check and check.max_abs_diff is not None else "n/a"
        lines.append(
            f"| `{entry.file}` | `{entry.sha256[:16]}...` | {'yes' if entry.usable else 'no'} | {diff} | {worst or 'n/a'} |"
        )
    for entry in (files.fp32, files.int8):
        if entry is not None and entry.check and entry.check.datasets:
            lines += onnx_check_table(entry)
    return lines


def onnx_check_table(entry) -> list[str]:
    """One ONNX file's check per dataset: what serving it instead of PyTorch changes."""
    check, q = entry.check, entry.quantization
    how = ""
    if q is not None:
        how = (
            f" {q.format}, {'per-channel ' if q.per_channel else ''}int8 weights, {q.calibration} ranges from "
            f"{q.calibration_images} images of {q.calibration_writers} training writers, "
            f"{len(q.nodes_excluded)} nodes kept in fp32."
        )
    limits = ""
    if check.max_eer_change_points is not None and check.max_decisions_changed is not None:
        limits = (
            f" Usable only within {check.max_eer_change_points:g} EER points and "
            f"{100 * check.max_decisions_changed:g}% of decisions on every dataset."
        )
    lines = [
        "",
        f"`{entry.file}` against PyTorch on the {check.split or 'held-out'} writers ({check.images} images; "
        f"smallest cosine {check.min_cosine:.4f}).{how}{limits}"
        if check.min_cosine is not None
        else f"`{entry.file}` against PyTorch on the {check.split or 'held-out'} writers.{how}{limits}",
        "",
        "| dataset | R | queries | skilled EER PyTorch | skilled EER ONNX | change (points) | decisions changed |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, c in sorted(check.datasets.items()):
        lines.append(
            f"| {name} | {c.references} | {c.queries} | {_pct(c.skilled_eer_torch)} | {_pct(c.skilled_eer_onnx)} |"
            f" {_num(c.eer_change_points, '+.2f')} | {_pct(c.decisions_changed)} |"
        )
    return lines


def plots(card: ModelCard) -> list[str]:
    return [line for plot in card.plots for line in ("", f"![{plot}]({plot})")]


def reproduce(card: ModelCard) -> list[str]:
    return ["", "Reproduce: see README.md, section 'Train and publish a model'.", ""]


SECTIONS = (
    header,
    data,
    recipe,
    scoring,
    operating_points,
    per_reference,
    held_out,
    per_dataset,
    decisions,
    leave_one_dataset_out,
    background_swap,
    whole_cheques,
    onnx_files,
    plots,
    reproduce,
)


def render_markdown(card: ModelCard | dict) -> str:
    card = card if isinstance(card, ModelCard) else ModelCard.parse(card)
    return "\n".join(line for section in SECTIONS for line in section(card))
