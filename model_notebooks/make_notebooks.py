#!/usr/bin/env python
"""Write the ML staff notebooks (``NN_name.ipynb``) from the cell sources below, outputs cleared.

The notebooks are thin: every step calls the ``sigverify`` package. Edit the cells here and
re-run ``.venv/bin/python model_notebooks/make_notebooks.py``; a test checks that the committed
notebooks match this script and carry no outputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

# The parameters cell every notebook starts with. SIGVERIFY_NOTEBOOK_SMALL=1 is the switch CI uses.
PARAMETERS = '''\
# Parameters.
# SIGVERIFY_NOTEBOOK_SMALL=1: synthetic signatures in a temporary folder, 32x48 input, 1 epoch of a few
# steps, so the notebook runs top to bottom in seconds (CI runs every notebook this way).
# Unset: the real organised datasets in organized_data/ and the shipped model in trained_model_parameters/.
import os
import tempfile
import warnings
from pathlib import Path

from sigverify.cli import REPO_ROOT

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets: text bars

SMALL = os.environ.get("SIGVERIFY_NOTEBOOK_SMALL") == "1"
ORGANIZED = REPO_ROOT / "organized_data"
SHIPPED_MODEL = REPO_ROOT / "trained_model_parameters"
SPLIT_FILE = REPO_ROOT / "image_pairs" / "splits.csv"  # writer splits the shipped model was trained with
SHARED = Path(os.environ.get("SIGVERIFY_SHARED_DATASETS", REPO_ROOT.parent / "shared" / "datasets"))
WORK = Path(tempfile.mkdtemp(prefix="sigverify-notebook-")) if SMALL else None
print("small settings" if SMALL else "real data", "| repo:", REPO_ROOT)
'''

# Small mode: a synthetic `folders` tree imported like a real dataset. Real mode: organised datasets.
SYNTHETIC_DATA = '''\
from sigverify.datasets import import_dataset, load_dataset
from sigverify.synthetic import write_folders_dataset

if SMALL:
    raw = write_folders_dataset(WORK / "raw", writers=8, genuine=6, forged=3)
    import_dataset(raw, "folders", WORK / "organized_data" / "synthetic")
    DATA_DIRS = [WORK / "organized_data" / "synthetic"]
else:
    DATA_DIRS = [ORGANIZED / name for name in ("cedar", "gpds") if (ORGANIZED / name / "manifest.csv").exists()]
    if not DATA_DIRS:
        raise SystemExit("no organised datasets: run 01_data_and_preprocessing or `sigverify import-data` first")
print("datasets:", ", ".join(str(d) for d in DATA_DIRS))
'''


def nb01():
    return [
        new_markdown_cell(
            "# 01 · Data and preprocessing\n\n"
            "Import a dataset into `organized_data/<name>/` (the same code as `sigverify import-data`), count the "
            "samples per writer, and look at genuine and forged signatures raw beside what the model sees after "
            "`sigverify.preprocess`. Last, the **CEDAR background trap**: genuine scans sit on grey paper, "
            "forgeries on white, and preprocessing must erase that difference."
        ),
        new_code_cell(PARAMETERS),
        new_code_cell(
            '''\
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sigverify.datasets import counts, import_dataset, load_dataset
from sigverify.preprocess import load_image, preprocess_image, preprocess_with_quality, to_greyscale
from sigverify.synthetic import draw_signature, write_folders_dataset

SIZE = (32, 48) if SMALL else (128, 192)  # the model's input size (HxW); the shipped card records its own
if SMALL:
    SOURCES = {"synthetic": (write_folders_dataset(WORK / "raw", writers=6, genuine=6, forged=3), "folders")}
    OUT = WORK / "organized_data"
else:
    SOURCES = {"cedar": (SHARED / "CEDAR", "cedar"), "gpds": (SHARED / "GPDS", "gpds")}
    OUT = ORGANIZED'''
        ),
        new_markdown_cell(
            "## Import\n\nAn already organised dataset (it has a `manifest.csv`) is read as it is; otherwise it is "
            "imported from its raw tree. Importing again is idempotent."
        ),
        new_code_cell(
            '''\
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
    print(f"{name}: {counts(samples)}  ({dest})")'''
        ),
        new_markdown_cell("## Counts per writer"),
        new_code_cell(
            '''\
frames = []
for name, samples in datasets.items():
    df = pd.DataFrame({"dataset": name, "writer": [s.writer for s in samples], "label": [s.label for s in samples]})
    frames.append(df)
per_writer = pd.concat(frames).groupby(["dataset", "writer", "label"]).size().unstack("label", fill_value=0)
display(per_writer.groupby("dataset").describe().T.round(1))
fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 3), squeeze=False)
for ax, (name, table) in zip(axes[0], per_writer.groupby("dataset")):
    table.droplevel("dataset").iloc[:40].plot.bar(stacked=True, ax=ax, width=0.9)
    ax.set_title(f"{name}: samples per writer (first 40 writers)")
    ax.set_xlabel("writer")
fig.tight_layout()'''
        ),
        new_markdown_cell(
            "## Raw beside preprocessed\n\nPreprocessing: greyscale, median denoise, Otsu threshold, background "
            "removed, crop to the ink with a margin, pad to the aspect ratio, resize, ink bright on black."
        ),
        new_code_cell(
            '''\
def show_raw_and_preprocessed(samples, title):
    fig, axes = plt.subplots(2, len(samples), figsize=(2.6 * len(samples), 3.6), squeeze=False)
    for col, s in enumerate(samples):
        array, quality = preprocess_with_quality(s.path, size=SIZE)
        axes[0, col].imshow(to_greyscale(load_image(s.path)), cmap="gray", vmin=0, vmax=255)
        axes[0, col].set_title(f"{s.label} #{s.sample}\\npaper {quality.paper_level:.0f}", fontsize=8)
        axes[1, col].imshow(array, cmap="gray", vmin=0, vmax=255)
        axes[1, col].set_title(f"{array.shape[0]}x{array.shape[1]}", fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()


for name, samples in datasets.items():
    writer = samples[0].writer
    genuine = [s for s in samples if s.writer == writer and s.is_genuine][:3]
    forged = [s for s in samples if s.writer == writer and not s.is_genuine][:3]
    show_raw_and_preprocessed(genuine + forged, f"{name}, writer {writer}: raw (top) and preprocessed (bottom)")'''
        ),
        new_markdown_cell(
            "## The background trap\n\nIn CEDAR the genuine scans have grey paper (median about 239) and the "
            "forgeries white paper (about 254). A model fed raw pixels can score almost perfectly by telling paper "
            "apart and then fail on every real cheque. Below: the same strokes drawn on grey and on white paper "
            "(synthetic, always shown), then the paper levels measured on CEDAR when it is available."
        ),
        new_code_cell(
            '''\
grey_paper = draw_signature(writer=3, sample=1, paper=239, ink=60)
white_paper = draw_signature(writer=3, sample=1, paper=254, ink=60)
arrays = [preprocess_image(img, size=SIZE)[0] for img in (grey_paper, white_paper)]
raw_gap = np.abs(np.asarray(grey_paper, float) - np.asarray(white_paper, float)).mean()
pre_gap = np.abs(arrays[0].astype(float) - arrays[1].astype(float)).max()
fig, axes = plt.subplots(2, 2, figsize=(7, 4))
for col, (img, arr, label) in enumerate(zip((grey_paper, white_paper), arrays, ("grey paper", "white paper"))):
    axes[0, col].imshow(img, cmap="gray", vmin=0, vmax=255)
    axes[0, col].set_title(f"raw, {label}")
    axes[1, col].imshow(arr, cmap="gray", vmin=0, vmax=255)
    axes[1, col].set_title("preprocessed")
for ax in axes.flat:
    ax.axis("off")
fig.tight_layout()
print(f"mean raw difference {raw_gap:.1f} grey levels; largest preprocessed difference {pre_gap:.0f} of 255")'''
        ),
        new_code_cell(
            '''\
if "cedar" in datasets:
    from sigverify.report import swap_background

    cedar = datasets["cedar"]
    rng = np.random.default_rng(0)
    picked = [cedar[i] for i in rng.choice(len(cedar), size=min(200, len(cedar)), replace=False)]
    paper = pd.DataFrame({
        "label": [s.label for s in picked],
        "paper level": [preprocess_with_quality(s.path, size=SIZE)[1].paper_level for s in picked],
    })
    display(paper.groupby("label")["paper level"].describe().round(1))
    ax = paper.pivot(columns="label", values="paper level").plot.hist(bins=30, alpha=0.6, figsize=(6, 3))
    ax.set_title("CEDAR paper level (median of non-ink pixels)")
    # The swap used by `sigverify evaluate --swap-background`: genuine onto white paper, forgery onto grey.
    g = next(s for s in cedar if s.is_genuine)
    f = next(s for s in cedar if not s.is_genuine)
    for s in (g, f):
        before = preprocess_with_quality(s.path, size=SIZE)[0].astype(float)
        after = preprocess_image(swap_background(load_image(s.path), s.is_genuine), size=SIZE)[0].astype(float)
        print(f"{s.label} {s.path.name}: mean |preprocessed(original) - preprocessed(swapped)| = "
              f"{np.abs(before - after).mean():.2f} of 255")
else:
    print("CEDAR is not imported here (small settings or no data): the synthetic demo above shows the trap.")'''
        ),
    ]


def nb02():
    return [
        new_markdown_cell(
            "# 02 · Pairs\n\nWriter-disjoint splits and balanced, seeded pair lists, written as CSV by the same "
            "code as `sigverify make-pairs`. Then the class balance per split, and a check that no writer is "
            "in two splits."
        ),
        new_code_cell(PARAMETERS),
        new_code_cell(SYNTHETIC_DATA),
        new_code_cell(
            '''\
import matplotlib.pyplot as plt
import pandas as pd

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
pairs.head()'''
        ),
        new_markdown_cell("## Class balance\n\nAs many negative pairs as positive ones, the negatives split between "
                          "skilled forgeries and random writers."),
        new_code_cell(
            '''\
display(pd.crosstab(pairs["split"], pairs["kind"], margins=True))
display(pd.crosstab(pairs["split"], pairs["label"], normalize="index").round(3).rename(columns={0: "negative", 1: "positive"}))
ax = pd.crosstab(pairs["split"], pairs["kind"]).plot.bar(figsize=(6, 3), rot=0)
ax.set_title("pairs per split and kind")
plt.show()'''
        ),
        new_markdown_cell("## No writer crosses splits"),
        new_code_cell(
            '''\
writers_per_split = pd.Series(splits).value_counts()
print("writers per split:", writers_per_split.to_dict())
both_sides = pd.concat([pairs[["writer_a", "split"]].set_axis(["writer", "split"], axis=1),
                        pairs[["writer_b", "split"]].set_axis(["writer", "split"], axis=1)])
splits_of_writer = both_sides.groupby("writer")["split"].nunique()
crossing = splits_of_writer[splits_of_writer > 1]
assert crossing.empty, f"writers in more than one split: {list(crossing.index)[:10]}"
assert all(splits[w] == s for w, s in both_sides.drop_duplicates().itertuples(index=False)), "pair split != writer split"
paths = pd.concat([pairs[["path_a", "split"]].set_axis(["path", "split"], axis=1),
                   pairs[["path_b", "split"]].set_axis(["path", "split"], axis=1)])
assert (paths.groupby("path")["split"].nunique() == 1).all(), "an image appears in two splits"
labels_ok = ((pairs["kind"] == "genuine-genuine") == (pairs["label"] == 1)).all()
assert labels_ok, "a pair's label disagrees with its kind"
print(f"OK: {len(splits_of_writer)} writers, each in exactly one split; {len(pairs)} pairs, labels consistent")'''
        ),
    ]


TRAIN_PARAMS = '''\
import time

# Training options (the same names as `sigverify train --help` and sigverify.train.TrainConfig).
EPOCHS = 1 if SMALL else 30
STEPS_PER_EPOCH = 3 if SMALL else None  # None: one pass over the training images
INPUT_SIZE = (32, 48) if SMALL else (128, 192)
EMBEDDING_DIM = 32 if SMALL else 256
WRITERS_PER_BATCH = 4 if SMALL else 12
LOSS = "triplet-semihard"  # contrastive | triplet-semihard | triplet-hard
SEED = 0
LR = 1e-3
OUT_DIR = WORK / "run" if SMALL else REPO_ROOT / "runs" / time.strftime("notebook-%Y%m%d-%H%M%S")
SPLIT = str(SPLIT_FILE) if (not SMALL and SPLIT_FILE.exists()) else None
'''


def nb03():
    return [
        new_markdown_cell(
            "# 03 · Training\n\nTwo ways to retrain, with the same options:\n\n"
            "1. **Here**, in this kernel: `sigverify.train.train`, the code path of `sigverify train` and of "
            "the Celery training task. Loss and validation EER are plotted per epoch; the model is written with "
            "its card.\n"
            "2. **As a training job** through the REST API (`POST /api/v1/training-jobs/`), which runs on the "
            "Celery `gpu` queue, registers an inactive model version, and is followed live from here. This part "
            "runs only when `SIGVERIFY_API_URL` (e.g. `http://127.0.0.1:8000/api/v1`) and "
            "`SIGVERIFY_API_TOKEN` (an `ml_staff` token) are set."
        ),
        new_code_cell(PARAMETERS),
        new_code_cell(SYNTHETIC_DATA),
        new_code_cell(TRAIN_PARAMS),
        new_markdown_cell("## 1. Train in this kernel"),
        new_code_cell(
            '''\
import matplotlib.pyplot as plt
import pandas as pd

from sigverify.train import TrainConfig, train

config = TrainConfig(
    data=[str(d) for d in DATA_DIRS], out_dir=str(OUT_DIR), epochs=EPOCHS, loss=LOSS, seed=SEED,
    input_size=INPUT_SIZE, embedding_dim=EMBEDDING_DIM, writers_per_batch=WRITERS_PER_BATCH,
    steps_per_epoch=STEPS_PER_EPOCH, lr=LR, split_file=SPLIT, threads=1 if SMALL else 0,
)
result = train(config, progress=lambda r: print(f"epoch {r['epoch']}/{r['epochs']}: loss {r['loss']:.4f}, "
                                                 f"val EER {r['val_eer']:.4f}, {r['images_per_s']:.0f} img/s"))
history = pd.DataFrame(result.history)
history'''
        ),
        new_code_cell(
            '''\
fig, (ax_loss, ax_eer) = plt.subplots(1, 2, figsize=(10, 3))
ax_loss.plot(history["epoch"], history["loss"], marker="o")
ax_loss.set(title="training loss", xlabel="epoch")
ax_eer.plot(history["epoch"], 100 * history["val_eer"], marker="o", label="skilled")
if "val_eer_random" in history:
    ax_eer.plot(history["epoch"], 100 * history["val_eer_random"], marker="o", label="random")
ax_eer.set(title="validation EER (held-out writers)", xlabel="epoch", ylabel="%")
ax_eer.legend()
fig.tight_layout()'''
        ),
        new_markdown_cell(
            "The model directory holds `model.safetensors` and `model_card.json` (written atomically, with the "
            "weights' sha256). Below the card's key figures, a markdown card beside it, and a reload that checks "
            "the sha256. To ship it: `sigverify publish --model <dir> ...` (see the README)."
        ),
        new_code_cell(
            '''\
from sigverify.publish import render_markdown
from sigverify.weights import load_model

card = result.card
(result.model_dir / "MODEL_CARD.md").write_text(render_markdown(card))
_, reloaded = load_model(result.model_dir)  # raises ModelLoadError if the weights do not match the card
print("model dir:", result.model_dir)
print("files:", sorted(p.name for p in result.model_dir.iterdir()))
print("sha256:", reloaded["sha256"])
print("input size:", card["input_size"], "| preprocessing version:", card["preprocess_version"])
print("thresholds:", {k: round(v, 4) if isinstance(v, float) else v for k, v in card["thresholds"].items()})
pd.DataFrame({r: {k: v for k, v in m.items() if not isinstance(v, dict)} for r, m in card["metrics"]["validation"].items()})'''
        ),
        new_markdown_cell(
            "## 2. The same options as a training job (REST API, Celery `gpu` queue)\n\n"
            "`datasets` are names of organised datasets on the server (its `organized_data/`); set "
            "`SIGVERIFY_API_DATASETS` (comma-separated) to choose them. `include_references` and "
            "`include_reviewed` add the bank's enrolled references and human-reviewed verifications. The job is "
            "followed until it ends or `FOLLOW_TIMEOUT_S` passes (it keeps running on the worker either way)."
        ),
        new_code_cell(
            '''\
import json

from IPython.display import Pretty, display

API_URL = os.environ.get("SIGVERIFY_API_URL", "").rstrip("/")
API_TOKEN = os.environ.get("SIGVERIFY_API_TOKEN", "")
API_DATASETS = [d for d in os.environ.get("SIGVERIFY_API_DATASETS", "" if SMALL else "cedar,gpds").split(",") if d]
FOLLOW_TIMEOUT_S = float(os.environ.get("SIGVERIFY_API_FOLLOW_TIMEOUT_S", 600 if SMALL else 24 * 3600))
POLL_S = 2.0

job_request = {
    "datasets": API_DATASETS,
    "include_references": True,
    "include_reviewed": True,
    "epochs": EPOCHS,
    "loss": LOSS,
    "seed": SEED,
    # The rest of the TrainConfig options; data, device and threads belong to the worker.
    "options": {k: v for k, v in {
        "input_size": list(INPUT_SIZE), "embedding_dim": EMBEDDING_DIM, "writers_per_batch": WRITERS_PER_BATCH,
        "steps_per_epoch": STEPS_PER_EPOCH, "lr": LR,
    }.items() if v is not None},
}
print(json.dumps(job_request, indent=1))'''
        ),
        new_code_cell(
            '''\
job = None
if not (API_URL and API_TOKEN):
    print("skipped: set SIGVERIFY_API_URL and SIGVERIFY_API_TOKEN to submit this as a training job")
else:
    import requests

    api = requests.Session()
    api.headers["Authorization"] = f"Token {API_TOKEN}"
    answer = api.post(f"{API_URL}/training-jobs/", json=job_request, timeout=30)
    if answer.status_code != 202:
        raise RuntimeError(f"the API refused the job ({answer.status_code}): {answer.text[:500]}")
    job = answer.json()
    print(f"training job {job['id']} is {job['status']}")
    line = display(Pretty(""), display_id=True)
    deadline = time.monotonic() + FOLLOW_TIMEOUT_S
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(POLL_S)
        answer = api.get(f"{API_URL}/training-jobs/{job['id']}/", timeout=30)
        answer.raise_for_status()
        job = answer.json()
        p = job["progress"]
        line.update(Pretty(f"{job['status']}: epoch {p['epoch']}/{p['epochs']}, loss {p['loss']}, "
                           f"val EER {p['val_eer']}, heartbeat {p['heartbeat_at']}"))
    print("status:", job["status"], "| error:", job["error"] or "-", "| model version:", job["model_version"])
    print("\\n".join(job["log_tail"].splitlines()[-10:]) if isinstance(job["log_tail"], str) else job["log_tail"])'''
        ),
        new_code_cell(
            '''\
if job and job.get("history"):
    remote = pd.DataFrame(job["history"])
    fig, (ax_loss, ax_eer) = plt.subplots(1, 2, figsize=(10, 3))
    ax_loss.plot(remote["epoch"], remote["loss"], marker="o")
    ax_loss.set(title=f"job {job['id']}: training loss", xlabel="epoch")
    ax_eer.plot(remote["epoch"], 100 * remote["val_eer"], marker="o")
    ax_eer.set(title="validation EER", xlabel="epoch", ylabel="%")
    fig.tight_layout()
    # Next: compare it with the active version (04_evaluation), then promote it:
    # POST {API_URL}/model-versions/<id>/promote/'''
        ),
    ]


EVAL_HELPERS = '''\
import numpy as np
import pandas as pd

from sigverify import evaluate as ev
from sigverify.datasets import load_dataset
from sigverify.inference import Verifier
from sigverify.pairs import read_splits, writer_key
from sigverify.report import embed_dataset


def embedded(model_dir, data_dir, split=None):
    """(verifier, embeddings, samples) of a dataset's writers in ``split`` of SPLIT_FILE (all if None)."""
    verifier = Verifier.from_dir(model_dir)
    root, samples = load_dataset(data_dir)
    if split:
        splits = read_splits(SPLIT_FILE)
        samples = [s for s in samples if splits.get(writer_key(Path(data_dir).name, s.writer)) == split]
    embeddings, kept = embed_dataset(verifier, samples, root)
    return verifier, embeddings, kept


def protocol(verifier, embeddings, samples, references):
    """The writer-independent protocol of `sigverify evaluate` (z-scores per writer and query kind)."""
    groups = ev.group_by_writer([s.writer for s in samples], [s.label for s in samples], [s.sample for s in samples])
    return ev.protocol_scores(embeddings, groups, references, verifier.scorer)
'''

SMALL_MODELS = '''\
from sigverify.train import TrainConfig, train

if SMALL:
    # Two tiny models (1 epoch of a few steps) stand in for two versions.
    def tiny(name, seed, loss):
        config = TrainConfig(data=[str(d) for d in DATA_DIRS], out_dir=str(WORK / name), epochs=1, steps_per_epoch=2,
                             input_size=(32, 48), embedding_dim=32, writers_per_batch=4, seed=seed, loss=loss,
                             threads=1, name=name)
        return train(config, log=lambda *_: None).model_dir
'''


def nb04():
    return [
        new_markdown_cell(
            "# 04 · Evaluation\n\nThe writer-independent protocol of `sigverify evaluate`: per writer, the first R "
            "genuine samples are the references, the other genuine samples positive queries, the writer's skilled "
            "forgeries and one genuine sample of every other writer (random forgeries) negative queries. Scores "
            "are the calibrated scores the API returns (higher = more likely genuine).\n\n"
            "ROC and DET curves, score histograms, EER and FAR/FRR at the card's operating points, two model "
            "versions side by side, and thresholds chosen at a target FAR."
        ),
        new_code_cell(PARAMETERS),
        new_code_cell(SYNTHETIC_DATA),
        new_code_cell(SMALL_MODELS),
        new_code_cell(
            '''\
if SMALL:
    MODEL_A, MODEL_B = tiny("model-a", 0, "triplet-semihard"), tiny("model-b", 1, "contrastive")
    REFERENCES, EVAL_SPLIT, THRESHOLD_SPLIT = 2, None, None
else:
    MODEL_A = SHIPPED_MODEL
    # Model B: SIGVERIFY_COMPARE_MODEL, else the newest model a run wrote (runs/*/model), else none.
    candidates = sorted((REPO_ROOT / "runs").glob("*/model/model_card.json"), key=lambda p: p.stat().st_mtime)
    MODEL_B = Path(os.environ["SIGVERIFY_COMPARE_MODEL"]) if os.environ.get("SIGVERIFY_COMPARE_MODEL") else (
        candidates[-1].parent if candidates else None)
    REFERENCES = 5
    # Report on test writers; choose thresholds on validation writers (never on the test set).
    EVAL_SPLIT, THRESHOLD_SPLIT = ("test", "val") if SPLIT_FILE.exists() else (None, None)
TARGET_FARS = (0.10, 0.05, 0.01)
from sigverify.weights import read_card

if MODEL_B and read_card(MODEL_B).get("sha256") == read_card(MODEL_A).get("sha256"):
    print(f"{MODEL_B} has the same weights as model A: nothing to compare (set SIGVERIFY_COMPARE_MODEL)")
    MODEL_B = None
MODELS = {"A": MODEL_A, **({"B": MODEL_B} if MODEL_B else {})}
for k, v in MODELS.items():
    print(k, v)'''
        ),
        new_code_cell(EVAL_HELPERS),
        new_code_cell(
            '''\
from sigverify.weights import read_card

scores = {}  # (model, dataset) -> dict of calibrated scores per query kind
rows = []
for label, model_dir in MODELS.items():
    card = read_card(model_dir)
    for data_dir in DATA_DIRS:
        verifier, embeddings, samples = embedded(model_dir, data_dir, EVAL_SPLIT)
        ps = protocol(verifier, embeddings, samples, REFERENCES)
        summary = ev.summarise(ps, verifier.scorer, card["thresholds"]["eer"])
        scores[label, data_dir.name] = {k: verifier.scorer.calibrate(ps.flat(k)) for k in ("genuine", "skilled", "random")}
        scores[label, data_dir.name]["ps"], scores[label, data_dir.name]["verifier"] = ps, verifier
        rows.append({
            "model": f"{label}: {card['name']} {card['version']}", "data": data_dir.name, "writers": summary["writers"],
            "R": REFERENCES, "skilled EER %": 100 * summary["skilled"]["eer"],
            "skilled EER per-writer %": 100 * summary["user_threshold_eer_skilled"],
            "skilled AUC": summary["skilled"]["auc"], "random EER %": 100 * summary["random"]["eer"],
            "FRR % at eer thr": 100 * summary["at_threshold"]["frr"],
            "FAR skilled % at eer thr": 100 * summary["at_threshold"]["far_skilled"],
        })
comparison = pd.DataFrame(rows).round(3)
comparison'''
        ),
        new_markdown_cell("## ROC and DET, both models side by side"),
        new_code_cell(
            '''\
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
    fig.tight_layout()'''
        ),
        new_markdown_cell("## Score histograms: genuine, skilled and random queries\n\nDashed lines: the card's "
                          "`reject` and `accept` thresholds; between them the decision is *refer*."),
        new_code_cell(
            '''\
bins = np.linspace(0, 1, 41)
for data_dir in DATA_DIRS:
    fig, axes = plt.subplots(1, len(MODELS), figsize=(5.5 * len(MODELS), 3.2), squeeze=False)
    for ax, label in zip(axes[0], MODELS):
        s, v = scores[label, data_dir.name], scores[label, data_dir.name]["verifier"]
        for kind in ("genuine", "skilled", "random"):
            ax.hist(s[kind], bins=bins, alpha=0.5, density=True, label=kind)
        for thr in (v.reject, v.accept):
            ax.axvline(thr, color="k", linestyle="--")
        ax.set(title=f"{data_dir.name}, model {label}", xlabel="calibrated score")
        ax.legend()
    fig.tight_layout()'''
        ),
        new_markdown_cell(
            "## Operating points\n\nFor each of the card's thresholds: the false-reject rate on genuine queries "
            "and the false-accept rates on skilled and random forgeries, plus how the three-way decision splits "
            "each kind of query."
        ),
        new_code_cell(
            '''\
from sigverify import metrics
from sigverify.scoring import decide

rows, decisions = [], []
for (label, data), s in scores.items():
    v = s["verifier"]
    for name, thr in (("eer", v.card["thresholds"]["eer"]), ("accept", v.accept), ("reject", v.reject)):
        frr, far_s = metrics.rates_at(thr, s["genuine"], s["skilled"])
        _, far_r = metrics.rates_at(thr, s["genuine"], s["random"])
        rows.append({"model": label, "data": data, "threshold": name, "value": thr,
                     "FRR %": 100 * frr, "FAR skilled %": 100 * far_s, "FAR random %": 100 * far_r})
    for kind in ("genuine", "skilled", "random"):
        counts = pd.Series([decide(x, v.accept, v.reject) for x in s[kind]]).value_counts(normalize=True)
        decisions.append({"model": label, "data": data, "query": kind, **(100 * counts).round(1).to_dict()})
display(pd.DataFrame(rows).round(3))
pd.DataFrame(decisions).fillna(0)'''
        ),
        new_markdown_cell(
            "## Choose thresholds at a target FAR\n\nThresholds are chosen on validation writers "
            "(`THRESHOLD_SPLIT`; with small settings, the same synthetic writers) and their rates checked on the "
            "evaluation writers. A threshold chosen on the test set would flatter it."
        ),
        new_code_cell(
            '''\
rows = []
for label, model_dir in MODELS.items():
    for data_dir in DATA_DIRS:
        if THRESHOLD_SPLIT:
            verifier, embeddings, samples = embedded(model_dir, data_dir, THRESHOLD_SPLIT)
            ps = protocol(verifier, embeddings, samples, REFERENCES)
            choose = {k: verifier.scorer.calibrate(ps.flat(k)) for k in ("genuine", "skilled")}
        else:
            choose = scores[label, data_dir.name]
        check = scores[label, data_dir.name]
        for far in TARGET_FARS:
            thr = metrics.threshold_at_far(choose["skilled"], far)
            frr, far_s = metrics.rates_at(thr, check["genuine"], check["skilled"])
            _, far_r = metrics.rates_at(thr, check["genuine"], check["random"])
            rows.append({"model": label, "data": data_dir.name, "target FAR %": 100 * far, "threshold": thr,
                         "FRR %": 100 * frr, "FAR skilled %": 100 * far_s, "FAR random %": 100 * far_r})
pd.DataFrame(rows).round(4)'''
        ),
    ]


def nb05():
    return [
        new_markdown_cell(
            "# 05 · Error analysis\n\nEvery query of the protocol scored exactly as the API scores a cheque "
            "(`Verifier.score` against the writer's first R references, then `Verifier.decide`). Then the worst "
            "false accepts (forgeries scored most genuine) and the worst false rejects (genuine signatures scored "
            "lowest), each shown raw and as the model saw it, beside the writer's first reference."
        ),
        new_code_cell(PARAMETERS),
        new_code_cell(SYNTHETIC_DATA),
        new_code_cell(SMALL_MODELS),
        new_code_cell(
            '''\
if SMALL:
    MODEL = tiny("model", 0, "triplet-semihard")
    REFERENCES, SPLIT, TOP_K = 2, None, 3
else:
    MODEL = Path(os.environ.get("SIGVERIFY_MODEL", SHIPPED_MODEL))
    REFERENCES, SPLIT, TOP_K = 5, ("test" if SPLIT_FILE.exists() else None), 8
print("model:", MODEL)'''
        ),
        new_code_cell(EVAL_HELPERS),
        new_code_cell(
            '''\
rows = []
for data_dir in DATA_DIRS:
    verifier, embeddings, samples = embedded(MODEL, data_dir, SPLIT)
    groups = ev.group_by_writer([s.writer for s in samples], [s.label for s in samples], [s.sample for s in samples])
    for writer, g in groups.items():
        refs = g["genuine"][:REFERENCES]
        if len(g["genuine"]) <= REFERENCES:
            continue
        for kind, queries in (("genuine", g["genuine"][REFERENCES:]), ("skilled", g["forged"])):
            for i in queries:
                result = verifier.score(embeddings[i], embeddings[refs])
                rows.append({"data": data_dir.name, "writer": writer, "kind": kind, "sample": samples[i].sample,
                             "score": result.score, "decision": verifier.decide(result.score),
                             "closest distance": min(result.distances), "path": samples[i].path,
                             "reference": samples[refs[0]].path})
queries = pd.DataFrame(rows)
print(f"accept >= {verifier.accept:.4f}, reject < {verifier.reject:.4f}")
pd.crosstab(queries["kind"], queries["decision"], margins=True)'''
        ),
        new_code_cell(
            '''\
import matplotlib.pyplot as plt

from sigverify.preprocess import load_image, to_greyscale


def show(title, table):
    if table.empty:
        print(f"{title}: none")
        return
    fig, axes = plt.subplots(len(table), 4, figsize=(11, 1.9 * len(table)), squeeze=False)
    for row, q in zip(axes, table.itertuples()):
        images = (to_greyscale(load_image(q.path)), verifier.preprocess(q.path)[0],
                  to_greyscale(load_image(q.reference)), verifier.preprocess(q.reference)[0])
        names = (f"{q.kind} {q.data}/{q.writer} #{q.sample}", "as the model saw it", "first reference", "as the model saw it")
        for ax, image, name in zip(row, images, names):
            ax.imshow(image, cmap="gray")
            ax.set_title(name, fontsize=8)
            ax.axis("off")
        row[0].set_title(f"{names[0]}\\nscore {q.score:.3f} -> {q.decision}", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()'''
        ),
        new_markdown_cell("## Worst false accepts\n\nForgeries the model called `genuine`, highest score first. "
                          "When there are none, the forgeries that came closest."),
        new_code_cell(
            '''\
forgeries = queries[queries["kind"] == "skilled"].sort_values("score", ascending=False)
accepted = forgeries[forgeries["decision"] == "genuine"]
show("false accepts" if len(accepted) else "no false accept: the highest-scored forgeries",
     (accepted if len(accepted) else forgeries).head(TOP_K))
(accepted if len(accepted) else forgeries).head(TOP_K).drop(columns=["path", "reference"])'''
        ),
        new_markdown_cell("## Worst false rejects\n\nGenuine signatures the model called `forgery`, lowest score "
                          "first. When there are none, the genuine signatures that scored lowest."),
        new_code_cell(
            '''\
genuine = queries[queries["kind"] == "genuine"].sort_values("score")
rejected = genuine[genuine["decision"] == "forgery"]
show("false rejects" if len(rejected) else "no false reject: the lowest-scored genuine signatures",
     (rejected if len(rejected) else genuine).head(TOP_K))
(rejected if len(rejected) else genuine).head(TOP_K).drop(columns=["path", "reference"])'''
        ),
    ]


NOTEBOOKS = {
    "01_data_and_preprocessing": nb01,
    "02_pairs": nb02,
    "03_training": nb03,
    "04_evaluation": nb04,
    "05_error_analysis": nb05,
}


def build(name: str) -> nbformat.NotebookNode:
    nb = new_notebook(cells=NOTEBOOKS[name]())
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{name[:2]}-{i:02d}"  # stable ids keep diffs small
    nbformat.validate(nb)
    return nb


def main(out_dir: Path = HERE) -> list[Path]:
    written = []
    for name in NOTEBOOKS:
        path = Path(out_dir) / f"{name}.ipynb"
        nbformat.write(build(name), path)
        written.append(path)
    return written


if __name__ == "__main__":
    for p in main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(p)
