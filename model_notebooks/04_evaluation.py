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
# # 04 · Evaluation
#
# The writer-independent protocol of `sigverify evaluate`: per writer, the first R genuine samples are the
# references, the other genuine samples positive queries, the writer's skilled forgeries and one genuine
# sample of every other writer (random forgeries) negative queries. Scores are the calibrated scores the
# API returns (higher = more likely genuine).
#
# ROC and DET curves, score histograms, EER and FAR/FRR at the card's operating points, two model versions
# side by side, and thresholds chosen at a target FAR.

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
import numpy as np
import pandas as pd
from IPython.display import display

from sigverify import evaluate as ev
from sigverify.card import ModelCard
from sigverify.report import protocol_for
from testsupport.small_settings import train_tiny

if SMALL:  # two tiny models stand in for two versions
    MODEL_A = train_tiny(DATA_DIRS, WORK / "model-a", seed=0, loss="triplet-semihard", name="model-a")
    MODEL_B = train_tiny(DATA_DIRS, WORK / "model-b", seed=1, loss="contrastive", name="model-b")
    REFERENCES, EVAL_SPLIT, THRESHOLD_SPLIT = 2, None, None
else:
    MODEL_A = SHIPPED_MODEL
    # Model B: SIGVERIFY_COMPARE_MODEL, else the newest model a run wrote (runs/*/model), else none.
    candidates = sorted((REPO_ROOT / "runs").glob("*/model/model_card.json"), key=lambda p: p.stat().st_mtime)
    MODEL_B = (
        Path(os.environ["SIGVERIFY_COMPARE_MODEL"])
        if os.environ.get("SIGVERIFY_COMPARE_MODEL")
        else (candidates[-1].parent if candidates else None)
    )
    REFERENCES = 5
    # Report on test writers; choose thresholds on validation writers (never on the test set).
    EVAL_SPLIT, THRESHOLD_SPLIT = ("test", "val") if SPLIT_FILE.exists() else (None, None)
TARGET_FARS = (0.10, 0.05, 0.01)
if MODEL_B and ModelCard.read(MODEL_B).sha256 == ModelCard.read(MODEL_A).sha256:
    print(f"{MODEL_B} has the same weights as model A: nothing to compare (set SIGVERIFY_COMPARE_MODEL)")
    MODEL_B = None
MODELS = {"A": MODEL_A, **({"B": MODEL_B} if MODEL_B else {})}
for k, v in MODELS.items():
    print(k, v)

# %%
scores = {}  # (model, dataset) -> dict of calibrated scores per query kind
rows = []
for label, model_dir in MODELS.items():
    card = ModelCard.read(model_dir)
    for data_dir in DATA_DIRS:
        verifier, ps = protocol_for(
            data_dir, "folders", model_dir, REFERENCES, split_file=SPLIT_FILE if EVAL_SPLIT else None, split=EVAL_SPLIT
        )
        summary = ev.summarise(ps, verifier.scorer, card.thresholds.eer)
        scores[label, data_dir.name] = {
            k: verifier.scorer.calibrate(ps.flat(k)) for k in ("genuine", "skilled", "random")
        }
        scores[label, data_dir.name]["ps"], scores[label, data_dir.name]["verifier"] = ps, verifier
        rows.append(
            {
                "model": f"{label}: {card.name} {card.version}",
                "data": data_dir.name,
                "writers": summary["writers"],
                "R": REFERENCES,
                "skilled EER %": 100 * summary["skilled"]["eer"],
                "skilled EER per-writer %": 100 * summary["user_threshold_eer_skilled"],
                "skilled AUC": summary["skilled"]["auc"],
                "random EER %": 100 * summary["random"]["eer"],
                "FRR % at eer thr": 100 * summary["at_threshold"]["frr"],
                "FAR skilled % at eer thr": 100 * summary["at_threshold"]["far_skilled"],
            }
        )
comparison = pd.DataFrame(rows).round(3)
comparison

# %% [markdown]
# ## ROC and DET, both models side by side

# %%
import matplotlib.pyplot as plt
from sklearn.metrics import DetCurveDisplay, RocCurveDisplay

for data_dir in DATA_DIRS:
    fig, (ax_roc, ax_det) = plt.subplots(1, 2, figsize=(11, 4))
    for label in MODELS:
        s = scores[label, data_dir.name]
        for kind in ("skilled", "random"):
            y = np.r_[np.ones(len(s["genuine"])), np.zeros(len(s[kind]))]
            x = np.r_[s["genuine"], s[kind]]
            RocCurveDisplay.from_predictions(y, x, ax=ax_roc, name=f"{label} {kind}")
            DetCurveDisplay.from_predictions(y, x, ax=ax_det, name=f"{label} {kind}")
    ax_roc.set_title(f"{data_dir.name}: ROC (R={REFERENCES})")
    ax_det.set_title(f"{data_dir.name}: DET")
    fig.tight_layout()

# %% [markdown]
# ## Score histograms: genuine, skilled and random queries
#
# Dashed lines: the card's `reject` and `accept` thresholds; between them the decision is *refer*.

# %%
bins = np.linspace(0, 1, 41)
for data_dir in DATA_DIRS:
    fig, axes = plt.subplots(1, len(MODELS), figsize=(5.5 * len(MODELS), 3.2), squeeze=False)
    for ax, label in zip(axes[0], MODELS, strict=True):
        s, v = scores[label, data_dir.name], scores[label, data_dir.name]["verifier"]
        for kind in ("genuine", "skilled", "random"):
            ax.hist(s[kind], bins=bins, alpha=0.5, density=True, label=kind)
        for thr in (v.reject, v.accept):
            ax.axvline(thr, color="k", linestyle="--")
        ax.set(title=f"{data_dir.name}, model {label}", xlabel="calibrated score")
        ax.legend()
    fig.tight_layout()

# %% [markdown]
# ## Operating points
#
# For each of the card's thresholds: the false-reject rate on genuine queries and the false-accept rates
# on skilled and random forgeries, plus how the three-way decision splits each kind of query.

# %%
from sigverify import metrics
from sigverify.scoring import decide

rows, decisions = [], []
for (label, data), s in scores.items():
    v = s["verifier"]
    for name, thr in (("eer", v.card.thresholds.eer), ("accept", v.accept), ("reject", v.reject)):
        frr, far_s = metrics.rates_at(thr, s["genuine"], s["skilled"])
        _, far_r = metrics.rates_at(thr, s["genuine"], s["random"])
        rows.append(
            {
                "model": label,
                "data": data,
                "threshold": name,
                "value": thr,
                "FRR %": 100 * frr,
                "FAR skilled %": 100 * far_s,
                "FAR random %": 100 * far_r,
            }
        )
    for kind in ("genuine", "skilled", "random"):
        counts = pd.Series([decide(x, v.accept, v.reject) for x in s[kind]]).value_counts(normalize=True)
        decisions.append({"model": label, "data": data, "query": kind, **(100 * counts).round(1).to_dict()})
display(pd.DataFrame(rows).round(3))
pd.DataFrame(decisions).fillna(0)

# %% [markdown]
# ## Choose thresholds at a target FAR
#
# Thresholds are chosen on validation writers (`THRESHOLD_SPLIT`; with small settings, the same synthetic
# writers) and their rates checked on the evaluation writers. A threshold chosen on the test set would
# flatter it.

# %%
rows = []
for label, model_dir in MODELS.items():
    for data_dir in DATA_DIRS:
        if THRESHOLD_SPLIT:
            verifier, ps = protocol_for(
                data_dir, "folders", model_dir, REFERENCES, split_file=SPLIT_FILE, split=THRESHOLD_SPLIT
            )
            choose = {k: verifier.scorer.calibrate(ps.flat(k)) for k in ("genuine", "skilled")}
        else:
            choose = scores[label, data_dir.name]
        check = scores[label, data_dir.name]
        for far in TARGET_FARS:
            thr = metrics.threshold_at_far(choose["skilled"], far)
            frr, far_s = metrics.rates_at(thr, check["genuine"], check["skilled"])
            _, far_r = metrics.rates_at(thr, check["genuine"], check["random"])
            rows.append(
                {
                    "model": label,
                    "data": data_dir.name,
                    "target FAR %": 100 * far,
                    "threshold": thr,
                    "FRR %": 100 * frr,
                    "FAR skilled %": 100 * far_s,
                    "FAR random %": 100 * far_r,
                }
            )
pd.DataFrame(rows).round(4)
