"""``sigverify evaluate``: score every protocol query of a dataset's embeddings and report the figures
(JSON, and a plot through ``figures.write_plot``)."""

from __future__ import annotations

from pathlib import Path

from . import evaluate as ev
from .embedding import embed_split
from .figures import write_plot
from .inference import Verifier
from .policy import thresholds_at
from .writer_dependent import load_background


def protocol_for(
    data,
    layout,
    model_dir,
    references=5,
    split_file=None,
    split="test",
    swap_background=False,
    precision="fp32",
    capture=None,
) -> tuple[Verifier, ev.ProtocolScores]:
    """Load the model, embed the dataset (or its ``split`` writers) and score every protocol query."""
    verifier, by_references = protocols_for(
        data, layout, model_dir, (references,), split_file, split, swap_background, precision, capture
    )
    return verifier, by_references[references]


def protocols_for(
    data,
    layout,
    model_dir,
    references=(5,),
    split_file=None,
    split="test",
    swap_background=False,
    precision="fp32",
    capture=None,
) -> tuple[Verifier, dict]:
    """As ``protocol_for``, for several R at once (one embedding pass): (verifier, {R: ProtocolScores})."""
    verifier = Verifier.from_dir(model_dir, precision=precision)
    embeddings, groups = embed_split(verifier, data, layout, split_file, split, swap_background, capture)
    background = load_background(model_dir, verifier.card)
    return verifier, {
        r: ev.protocol_scores(embeddings, groups, r, verifier.scorer, background) for r in dict.fromkeys(references)
    }


def operating_pair(verifier: Verifier, references: int) -> dict:
    """The card's accept/reject for ``references`` (its single pair for every R on an older card)."""
    return thresholds_at(verifier.card.to_dict()["thresholds"], references)


def evaluation_report(
    verifier: Verifier,
    ps: ev.ProtocolScores,
    data,
    layout="folders",
    split_file=None,
    split="test",
    swap_background=False,
    json_path=None,
    plot_path=None,
) -> dict:
    """The report of one protocol run (figures at the card's EER threshold), optionally as JSON and plots."""
    name = Path(data).resolve().name.lower()
    threshold = verifier.card.thresholds.eer
    report = ev.summarise(ps, verifier.scorer, threshold)
    pair = operating_pair(verifier, ps.references)
    report["decisions"] = ev.decision_rates(ps, verifier.scorer, pair["accept"], pair["reject"])
    report["decisions_fitted_for"] = pair["references"]  # None: the card has one pair for every R
    report.update(
        {
            "dataset": str(data),
            "layout": layout,
            "split": split if split_file else "all",
            "model_sha256": verifier.sha256,
            "model_version": verifier.card.version,
            "accept_threshold": pair["accept"],
            "reject_threshold": pair["reject"],
            "background_swapped": bool(swap_background),
        }
    )
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(ev.dumps(report) + "\n")
    if plot_path:
        write_plot(ps, verifier.scorer, threshold, plot_path, title=f"{name} R={ps.references}")
    return report


def run_evaluation(
    data,
    layout,
    model_dir,
    references=5,
    json_path=None,
    plot_path=None,
    split_file=None,
    split="test",
    swap_background=False,
    precision="fp32",
    capture=None,
) -> dict:
    """The report of the first R of ``references`` (an int or several); with several, ``by_references``
    holds every R's figures and ``decisions`` (at that R's thresholds), keyed by R as a string."""
    counts = [int(references)] if isinstance(references, int) else [int(r) for r in references]
    if not counts or min(counts) < 1:
        raise ValueError("references: at least one R of 1 or more")
    verifier, by_references = protocols_for(
        data, layout, model_dir, counts, split_file, split, swap_background, precision, capture
    )
    reports = {
        r: evaluation_report(
            verifier, ps, data, layout, split_file, split, swap_background, None, plot_path if r == counts[0] else None
        )
        for r, ps in by_references.items()
    }
    report = dict(reports[counts[0]])
    report["capture"] = capture or "as stored"
    if len(reports) > 1:
        report["by_references"] = {str(r): {k: one[k] for k in _PER_R_KEYS if k in one} for r, one in reports.items()}
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(ev.dumps(report) + "\n")
    return report


# A protocol's figures in a report (what a card keeps of it, ``card_figures.compact``).
FIGURE_KEYS = (
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
_PER_R_KEYS = FIGURE_KEYS + ("decisions_fitted_for",)
