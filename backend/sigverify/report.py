"""``sigverify evaluate``: embed a dataset, run the protocol, write JSON and plots."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from . import evaluate as ev
from .cache import ImageCache
from .datasets import load_dataset
from .errors import DatasetError, ImageRejected
from .inference import Verifier
from .pairs import read_splits, writer_key
from .policy import thresholds_at
from .preprocess import load_image, otsu_threshold, preprocess_image, to_greyscale
from .writer_dependent import load_background

# Paper levels of CEDAR's scans (README of the development data): genuine grey, forgeries white.
GREY_PAPER, WHITE_PAPER = 239.0, 254.0


def swap_background(image: Image.Image, genuine: bool) -> Image.Image:
    """Repaint the paper: genuine images get white paper, forgeries grey (the trap reversed)."""
    grey = to_greyscale(image)
    ink = grey < otsu_threshold(grey)
    paper = float(np.median(grey[~ink])) if (~ink).any() else 255.0
    target = WHITE_PAPER if genuine else GREY_PAPER
    out = np.where(ink, grey, np.clip(grey + (target - paper), 0, 255))
    return Image.fromarray(out.astype(np.uint8))


def as_bilevel(image: Image.Image) -> Image.Image:
    """What a cheque archive stores: 1-bit ink on white, cut at Otsu's threshold."""
    grey = to_greyscale(image)
    return Image.fromarray(np.where(grey < otsu_threshold(grey), 0, 255).astype(np.uint8)).convert("1")


def half_resolution(image: Image.Image) -> Image.Image:
    """The same paper scanned at half the dpi."""
    return image.resize((max(1, image.width // 2), max(1, image.height // 2)), Image.Resampling.LANCZOS)


# Capture conditions an evaluation can simulate on any dataset (``evaluate --capture``).
CAPTURES = {"bilevel": as_bilevel, "half-resolution": half_resolution}


def _select(samples, name: str, split_file, split: str):
    if not split_file:
        return samples
    splits = read_splits(split_file)
    chosen = [s for s in samples if splits.get(writer_key(name, s.writer)) == split]
    if not chosen:
        raise DatasetError(f"no writer of {name} is in split {split!r} of {split_file}")
    return chosen


def embed_dataset(verifier: Verifier, samples, root, swap: bool = False, capture: str | None = None):
    """(embeddings, kept samples). Rejected images are left out with a warning.

    ``swap`` repaints the paper (genuine white, forgeries grey); ``capture`` names one of ``CAPTURES``.
    """
    if capture is not None and capture not in CAPTURES:
        raise ValueError(f"unknown capture {capture!r}; choose one of {', '.join(CAPTURES)}")
    if swap or capture:
        arrays, kept = [], []
        for s in tqdm(samples, desc=f"preprocess ({'swapped paper' if swap else capture})", unit="img"):
            try:
                image = load_image(s.path)
                image = swap_background(image, s.is_genuine) if swap else image
                image = CAPTURES[capture](image) if capture else image
                arrays.append(preprocess_image(image, size=verifier.input_size)[0])
                kept.append(s)
            except ImageRejected as exc:
                print(f"skipped {s.path}: {exc.message}")
    else:
        cache = ImageCache.build(samples, root, verifier.input_size)
        kept = [s for s, ok in zip(samples, cache.valid, strict=True) if ok]
        arrays = [cache.arrays[i] for i, ok in enumerate(cache.valid) if ok]
    embeddings = []
    step = 256
    for start in tqdm(range(0, len(arrays), step), desc="embed", unit="batch"):
        embeddings.append(verifier.embed_arrays(arrays[start : start + step]))
    return np.concatenate(embeddings), kept


def embed_samples(
    verifier: Verifier, data, layout="folders", split_file=None, split="test", swap_background=False, capture=None
):
    """(embeddings, kept samples) of the dataset, or of its ``split`` writers."""
    root, samples = load_dataset(data, layout)
    samples = _select(samples, Path(data).resolve().name.lower(), split_file, split)
    return embed_dataset(verifier, samples, root, swap=swap_background, capture=capture)


def embed_split(
    verifier: Verifier, data, layout="folders", split_file=None, split="test", swap_background=False, capture=None
):
    """(embeddings, writer groups) of the dataset, or of its ``split`` writers."""
    embeddings, kept = embed_samples(verifier, data, layout, split_file, split, swap_background, capture)
    groups = ev.group_by_writer([s.writer for s in kept], [s.label for s in kept], [s.sample for s in kept])
    return embeddings, groups


def save_embedded(path, embeddings: np.ndarray, kept, **extra) -> None:
    """Store ``embed_samples``' output (embeddings and who each is) as ``.npz`` for ``load_embedded``."""
    np.savez(
        path,
        embeddings=embeddings,
        writers=np.array([s.writer for s in kept]),
        labels=np.array([s.label for s in kept]),
        samples=np.array([s.sample for s in kept]),
        **extra,
    )


def load_embedded(path) -> tuple[np.ndarray, dict]:
    """(embeddings, writer groups) from a ``save_embedded`` file, as ``embed_split`` returns them."""
    with np.load(path) as stored:
        groups = ev.group_by_writer(stored["writers"].tolist(), stored["labels"].tolist(), stored["samples"].tolist())
        return stored["embeddings"].astype(np.float32), groups


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


_PER_R_KEYS = (
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
    "decisions_fitted_for",
)


def write_plot(ps, scorer, threshold: float, path, title: str = "") -> None:
    """ROC and DET curves, score histograms and the confusion matrix at ``threshold``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, DetCurveDisplay, RocCurveDisplay

    gen, skl, rnd = ps.calibrated(scorer)
    fig, axes = plt.subplots(2, 2, figsize=(11, 9))
    for neg, label in ((skl, "skilled"), (rnd, "random")):
        if len(neg) and len(gen):
            y = np.r_[np.ones(len(gen)), np.zeros(len(neg))]
            s = np.r_[gen, neg]
            RocCurveDisplay.from_predictions(y, s, ax=axes[0, 0], name=label)
            DetCurveDisplay.from_predictions(y, s, ax=axes[0, 1], name=label)
    axes[0, 0].set_title("ROC")
    axes[0, 1].set_title("DET")
    bins = np.linspace(0, 1, 41)
    for values, label in ((gen, "genuine"), (skl, "skilled forgery"), (rnd, "random forgery")):
        if len(values):
            axes[1, 0].hist(values, bins=bins, alpha=0.5, density=True, label=label)
    axes[1, 0].axvline(threshold, color="k", linestyle="--", label=f"threshold {threshold:.2f}")
    axes[1, 0].set_title("calibrated scores")
    axes[1, 0].set_xlabel("score (higher = more likely genuine)")
    axes[1, 0].legend()
    y_true = np.r_[np.ones(len(gen)), np.zeros(len(skl))].astype(int)
    y_pred = (np.r_[gen, skl] >= threshold).astype(int)
    if len(y_true):
        ConfusionMatrixDisplay.from_predictions(
            y_true, y_pred, labels=[1, 0], display_labels=["genuine", "skilled"], ax=axes[1, 1], colorbar=False
        )
    axes[1, 1].set_title("at the shipped threshold (rows: truth)")
    fig.suptitle(title)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    Path(path).write_bytes(buf.getvalue())


def print_summary(report: dict) -> None:
    rows = [
        ("writers", report["writers"]),
        ("references", report["references"]),
        (
            "queries genuine/skilled/random",
            f"{report['genuine_queries']}/{report['skilled_queries']}/{report['random_queries']}",
        ),
        ("skilled EER (global threshold)", f"{100 * report['skilled']['eer']:.2f}%"),
        ("skilled EER (per-writer threshold)", f"{100 * report['user_threshold_eer_skilled']:.2f}%"),
        ("skilled AUC", f"{report['skilled']['auc']:.4f}"),
        ("random EER", f"{100 * report['random']['eer']:.2f}%"),
        ("random AUC", f"{report['random']['auc']:.4f}"),
        ("shipped threshold", f"{report['threshold']:.4f}"),
        (
            "FRR / FAR skilled / FAR random at it",
            "{:.2f}% / {:.2f}% / {:.2f}%".format(
                *(100 * report["at_threshold"][k] for k in ("frr", "far_skilled", "far_random"))
            ),
        ),
        ("accept / reject thresholds", "{accept:.4f} / {reject:.4f}".format(**report["decisions"])),
        (
            "forgeries decided genuine (skilled / random)",
            "{:.2f}% / {:.2f}%".format(
                *(100 * report["decisions"][k] for k in ("far_skilled_at_accept", "far_random_at_accept"))
            ),
        ),
        ("genuine decided forgery", f"{100 * report['decisions']['frr_at_reject']:.2f}%"),
        (
            "referred to a human / automated",
            "{:.1f}% / {:.1f}%".format(*(100 * report["decisions"][k] for k in ("referred", "automated"))),
        ),
        ("model sha256", report["model_sha256"][:16] + "…"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    if report.get("by_references"):
        print("\n R  skilled EER  random EER  accept  reject  skilled accepted  genuine rejected  automated")
        for r, one in report["by_references"].items():
            d = one["decisions"]
            print(
                f"{int(r):2d}  {one['skilled']['eer']:10.2%}  {one['random']['eer']:10.2%}  {d['accept']:.4f}  "
                f"{d['reject']:.4f}  {d['far_skilled_at_accept']:16.2%}  {d['frr_at_reject']:16.2%}  {d['automated']:9.1%}"
            )
