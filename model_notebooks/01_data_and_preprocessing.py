# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Data and preprocessing
#
# Import a dataset into `organized_data/<name>/` (the same code as `sigverify import-data`), count the
# samples per writer, and look at genuine and forged signatures raw beside what the model sees after
# `sigverify.preprocess`. Last, the **CEDAR background trap**: genuine scans sit on grey paper, forgeries
# on white, and preprocessing must erase that difference.

# %%
# Parameters.
# SIGVERIFY_NOTEBOOK_SMALL=1: synthetic signatures in a temporary folder, a quarter-size input, 1 epoch of a few
# steps, so the notebook runs top to bottom in seconds (CI runs every notebook this way).
# Unset: the real organised datasets in organized_data/ and the shipped model in trained_model_parameters/.
import os
import sys
import tempfile
import warnings
from pathlib import Path

from sigverify.cli import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "backend"))  # testsupport: the small settings' drawn datasets and tiny models

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets: text bars

SMALL = os.environ.get("SIGVERIFY_NOTEBOOK_SMALL") == "1"
ORGANIZED = REPO_ROOT / "organized_data"
SHIPPED_MODEL = REPO_ROOT / "trained_model_parameters"
SPLIT_FILE = REPO_ROOT / "image_pairs" / "splits.csv"  # writer splits the shipped model was trained with
SHARED = Path(os.environ.get("SIGVERIFY_SHARED_DATASETS", REPO_ROOT.parent / "shared" / "datasets"))
WORK = Path(tempfile.mkdtemp(prefix="sigverify-notebook-")) if SMALL else None
print("small settings" if SMALL else "real data", "| repo:", REPO_ROOT)


# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from sigverify.datasets import counts, import_dataset, load_dataset
from sigverify.figures import raw_and_preprocessed
from sigverify.preprocess import load_image, preprocess_image, preprocess_with_quality
from sigverify.synthetic_signatures import draw_signature
from testsupport.small_settings import RECIPE_INPUT_SIZE, SMALL_INPUT_SIZE
from testsupport.synthetic_data import write_folders_dataset

SIZE = SMALL_INPUT_SIZE if SMALL else RECIPE_INPUT_SIZE  # the model's input size (HxW); the card records its own
if SMALL:
    SOURCES = {"synthetic": (write_folders_dataset(WORK / "raw", writers=6, genuine=6, forged=3), "folders")}
    OUT = WORK / "organized_data"
else:
    SOURCES = {
        "cedar": (SHARED / "CEDAR", "cedar"),
        "gpds": (SHARED / "GPDS", "gpds"),
        "bengali": (SHARED / "BHSig260" / "Bengali", "bhsig260"),
        "hindi": (SHARED / "BHSig260" / "Hindi", "bhsig260"),
    }
    OUT = ORGANIZED

# %% [markdown]
# ## Import
#
# An already organised dataset (it has a `manifest.csv`) is read as it is; otherwise it is imported from
# its raw tree. Importing again is idempotent.

# %%
datasets = {}
for name, (source, layout) in SOURCES.items():
    dest = OUT / name
    if not (dest / "manifest.csv").exists():
        if not source.is_dir():
            print(f"skip {name}: neither {dest}/manifest.csv nor the raw tree {source} exists")
            continue
        import_dataset(source, layout, dest)
    root, samples = load_dataset(dest)
    datasets[name] = samples
    print(f"{name}: {counts(samples)}  ({dest})")

# %% [markdown]
# ## Counts per writer

# %%
frames = []
for name, samples in datasets.items():
    df = pd.DataFrame({"dataset": name, "writer": [s.writer for s in samples], "label": [s.label for s in samples]})
    frames.append(df)
per_writer = pd.concat(frames).groupby(["dataset", "writer", "label"]).size().unstack("label", fill_value=0)
display(per_writer.groupby("dataset").describe().T.round(1))
fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 3), squeeze=False)
for ax, (name, table) in zip(axes[0], per_writer.groupby("dataset"), strict=False):  # no group: no samples
    table.droplevel("dataset").iloc[:40].plot.bar(stacked=True, ax=ax, width=0.9)
    ax.set_title(f"{name}: samples per writer (first 40 writers)")
    ax.set_xlabel("writer")
fig.tight_layout()


# %% [markdown]
# ## Raw beside preprocessed
#
# Preprocessing: greyscale, median denoise, Otsu threshold, background removed, crop to the ink with a
# margin, pad to the aspect ratio, resize, ink bright on black.

# %%
for name, samples in datasets.items():
    writer = samples[0].writer
    genuine = [s for s in samples if s.writer == writer and s.is_genuine][:3]
    forged = [s for s in samples if s.writer == writer and not s.is_genuine][:3]
    raw_and_preprocessed(genuine + forged, SIZE, f"{name}, writer {writer}: raw (top) and preprocessed (bottom)")

# %% [markdown]
# ## The background trap
#
# In CEDAR the genuine scans have grey paper (median about 239) and the forgeries white paper (about 254).
# A model fed raw pixels can score almost perfectly by telling paper apart and then fail on every real
# cheque. Below: the same strokes drawn on grey and on white paper (synthetic, always shown), then the
# paper levels measured on CEDAR when it is available.

# %%
grey_paper = draw_signature(writer=3, sample=1, paper=239, ink=60)
white_paper = draw_signature(writer=3, sample=1, paper=254, ink=60)
arrays = [preprocess_image(img, size=SIZE)[0] for img in (grey_paper, white_paper)]
raw_gap = np.abs(np.asarray(grey_paper, float) - np.asarray(white_paper, float)).mean()
pre_gap = np.abs(arrays[0].astype(float) - arrays[1].astype(float)).max()
fig, axes = plt.subplots(2, 2, figsize=(7, 4))
for col, (img, arr, label) in enumerate(
    zip((grey_paper, white_paper), arrays, ("grey paper", "white paper"), strict=True)
):
    axes[0, col].imshow(img, cmap="gray", vmin=0, vmax=255)
    axes[0, col].set_title(f"raw, {label}")
    axes[1, col].imshow(arr, cmap="gray", vmin=0, vmax=255)
    axes[1, col].set_title("preprocessed")
for ax in axes.flat:
    ax.axis("off")
fig.tight_layout()
print(f"mean raw difference {raw_gap:.1f} grey levels; largest preprocessed difference {pre_gap:.0f} of 255")

# %%
if "cedar" in datasets:
    from sigverify.captures import swap_background

    cedar = datasets["cedar"]
    rng = np.random.default_rng(0)
    picked = [cedar[i] for i in rng.choice(len(cedar), size=min(200, len(cedar)), replace=False)]
    paper = pd.DataFrame(
        {
            "label": [s.label for s in picked],
            "paper level": [preprocess_with_quality(s.path, size=SIZE)[1].paper_level for s in picked],
        }
    )
    display(paper.groupby("label")["paper level"].describe().round(1))
    ax = paper.pivot(columns="label", values="paper level").plot.hist(bins=30, alpha=0.6, figsize=(6, 3))
    ax.set_title("CEDAR paper level (median of non-ink pixels)")
    # The swap used by `sigverify evaluate --swap-background`: genuine onto white paper, forgery onto grey.
    g = next(s for s in cedar if s.is_genuine)
    f = next(s for s in cedar if not s.is_genuine)
    for s in (g, f):
        before = preprocess_with_quality(s.path, size=SIZE)[0].astype(float)
        after = preprocess_image(swap_background(load_image(s.path), s.is_genuine), size=SIZE)[0].astype(float)
        print(
            f"{s.label} {s.path.name}: mean |preprocessed(original) - preprocessed(swapped)| = "
            f"{np.abs(before - after).mean():.2f} of 255"
        )
else:
    print("CEDAR is not imported here (small settings or no data): the synthetic demo above shows the trap.")
