"""Figures: of signatures for the notebooks (samples raw beside preprocessed, a gallery of the worst
errors), each drawn as one matplotlib figure and returned; and an evaluation's ROC/DET plot, written
as a PNG (``write_plot``)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .preprocess import load_image, preprocess_with_quality, to_greyscale


def raw_and_preprocessed(samples, size, title: str = ""):
    """Each sample raw (top, with its paper level) and as the model sees it at ``size`` (bottom)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(samples), figsize=(2.6 * len(samples), 3.6), squeeze=False)
    for col, s in enumerate(samples):
        array, quality = preprocess_with_quality(s.path, size=size)
        axes[0, col].imshow(to_greyscale(load_image(s.path)), cmap="gray", vmin=0, vmax=255)
        axes[0, col].set_title(f"{s.label} #{s.sample}\npaper {quality.paper_level:.0f}", fontsize=8)
        axes[1, col].imshow(array, cmap="gray", vmin=0, vmax=255)
        axes[1, col].set_title(f"{array.shape[0]}x{array.shape[1]}", fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def error_gallery(table, verifier, title: str = ""):
    """One row per query of ``table`` (columns path, reference, kind, data, writer, sample, score,
    decision): the query raw and as ``verifier`` saw it, beside the writer's first reference.
    None (and a printed line) when the table is empty."""
    import matplotlib.pyplot as plt

    if table.empty:
        print(f"{title}: none")
        return None
    fig, axes = plt.subplots(len(table), 4, figsize=(11, 1.9 * len(table)), squeeze=False)
    for row, q in zip(axes, table.itertuples(), strict=True):
        images = (
            to_greyscale(load_image(q.path)),
            verifier.preprocess(q.path)[0],
            to_greyscale(load_image(q.reference)),
            verifier.preprocess(q.reference)[0],
        )
        names = (
            f"{q.kind} {q.data}/{q.writer} #{q.sample}",
            "as the model saw it",
            "first reference",
            "as the model saw it",
        )
        for ax, image, name in zip(row, images, names, strict=True):
            ax.imshow(image, cmap="gray")
            ax.set_title(name, fontsize=8)
            ax.axis("off")
        row[0].set_title(f"{names[0]}\nscore {q.score:.3f} -> {q.decision}", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


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
