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
# # 02 · Pairs
#
# Writer-disjoint splits and balanced, seeded pair lists, written as CSV by the same code as `sigverify
# make-pairs`. Then the class balance per split, and a check that no writer is in two splits.

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
from testsupport.small_settings import organised_datasets, synthetic_datasets

# Small settings: a synthetic dataset imported like a real one. Real data: the organised datasets.
DATA_DIRS = synthetic_datasets(WORK) if SMALL else organised_datasets(ORGANIZED)
print("datasets:", ", ".join(str(d) for d in DATA_DIRS))


# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from sigverify.cli import main as sigverify
from sigverify.pairs import read_pairs, read_splits

# Real mode writes image_pairs/pairs.csv and keeps an existing image_pairs/splits.csv (new writers are added).
PAIRS_DIR = WORK / "image_pairs" if SMALL else REPO_ROOT / "image_pairs"
SEED = 0
PER_WRITER = None  # cap of positive pairs per writer (None: all)
args = ["make-pairs", "--data", *map(str, DATA_DIRS), "--out", str(PAIRS_DIR), "--seed", str(SEED)]
if PER_WRITER:
    args += ["--per-writer", str(PER_WRITER)]
assert sigverify(args) == 0
pairs = pd.DataFrame(read_pairs(PAIRS_DIR / "pairs.csv"))
splits = read_splits(PAIRS_DIR / "splits.csv")
pairs.head()

# %% [markdown]
# ## Class balance
#
# As many negative pairs as positive ones, the negatives split between skilled forgeries and random writers.

# %%
display(pd.crosstab(pairs["split"], pairs["kind"], margins=True))
display(
    pd.crosstab(pairs["split"], pairs["label"], normalize="index")
    .round(3)
    .rename(columns={0: "negative", 1: "positive"})
)
ax = pd.crosstab(pairs["split"], pairs["kind"]).plot.bar(figsize=(6, 3), rot=0)
ax.set_title("pairs per split and kind")
plt.show()

# %% [markdown]
# ## No writer crosses splits

# %%
writers_per_split = pd.Series(splits).value_counts()
print("writers per split:", writers_per_split.to_dict())
both_sides = pd.concat(
    [
        pairs[["writer_a", "split"]].set_axis(["writer", "split"], axis=1),
        pairs[["writer_b", "split"]].set_axis(["writer", "split"], axis=1),
    ]
)
splits_of_writer = both_sides.groupby("writer")["split"].nunique()
crossing = splits_of_writer[splits_of_writer > 1]
assert crossing.empty, f"writers in more than one split: {list(crossing.index)[:10]}"
assert all(splits[w] == s for w, s in both_sides.drop_duplicates().itertuples(index=False)), (
    "pair split != writer split"
)
paths = pd.concat(
    [
        pairs[["path_a", "split"]].set_axis(["path", "split"], axis=1),
        pairs[["path_b", "split"]].set_axis(["path", "split"], axis=1),
    ]
)
assert (paths.groupby("path")["split"].nunique() == 1).all(), "an image appears in two splits"
labels_ok = ((pairs["kind"] == "genuine-genuine") == (pairs["label"] == 1)).all()
assert labels_ok, "a pair's label disagrees with its kind"
print(f"OK: {len(splits_of_writer)} writers, each in exactly one split; {len(pairs)} pairs, labels consistent")
