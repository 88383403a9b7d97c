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
# # 03 · Training
#
# Two ways to retrain, with the same options:
#
# 1. **Here**, in this kernel: `sigverify.train.train`, the code path of `sigverify train` and of the
#    Celery training task. Loss and validation EER are plotted per epoch; the model is written with its
#    card.
# 2. **As a training job** through the REST API (`POST /api/v1/training-jobs/`), which runs on the Celery
#    `gpu` queue, registers an inactive model version, and is followed live from here. This part runs only
#    when `SIGVERIFY_API_URL` (e.g. `http://127.0.0.1:8000/api/v1`) and `SIGVERIFY_API_TOKEN` (an
#    `ml_staff` token) are set.

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
from testsupport.small_settings import RECIPE_INPUT_SIZE, SMALL_INPUT_SIZE, organised_datasets, synthetic_datasets

# Small settings: a synthetic dataset imported like a real one. Real data: the organised datasets.
DATA_DIRS = synthetic_datasets(WORK) if SMALL else organised_datasets(ORGANIZED)
print("datasets:", ", ".join(str(d) for d in DATA_DIRS))


# %%
import time

# Training options (the same names as `sigverify train --help` and sigverify.train.TrainConfig).
# Real data: the shipped model's recipe (README, "Train and publish a model").
EPOCHS = 1 if SMALL else 40
STEPS_PER_EPOCH = 3 if SMALL else 30  # None: one pass over the training images
INPUT_SIZE = SMALL_INPUT_SIZE if SMALL else RECIPE_INPUT_SIZE
EMBEDDING_DIM = 32 if SMALL else 256
WRITERS_PER_BATCH = 4 if SMALL else 12
LOSS = "triplet-semihard"  # contrastive | triplet-semihard | triplet-hard
SEED = 0
LR = 1e-3 if SMALL else 3e-4
CAPTURE_AUGMENT = not SMALL  # random binarisation, lower resolution, blur
BALANCE_DATASETS = not SMALL  # each batch's writers drawn evenly from every dataset
PATIENCE = 6 if SMALL else 12
# A warm start from the shipped weights (same embedding size); the API's training jobs start afresh.
INIT_FROM = None if SMALL else str(REPO_ROOT / "trained_model_parameters")
OUT_DIR = WORK / "run" if SMALL else REPO_ROOT / "runs" / time.strftime("notebook-%Y%m%d-%H%M%S")
SPLIT = str(SPLIT_FILE) if (not SMALL and SPLIT_FILE.exists()) else None


# %% [markdown]
# ## 1. Train in this kernel

# %%
import matplotlib.pyplot as plt
import pandas as pd

from sigverify.train import TrainConfig, train

config = TrainConfig(
    data=[str(d) for d in DATA_DIRS],
    out_dir=str(OUT_DIR),
    epochs=EPOCHS,
    loss=LOSS,
    seed=SEED,
    input_size=INPUT_SIZE,
    embedding_dim=EMBEDDING_DIM,
    writers_per_batch=WRITERS_PER_BATCH,
    steps_per_epoch=STEPS_PER_EPOCH,
    lr=LR,
    capture_augment=CAPTURE_AUGMENT,
    balance_datasets=BALANCE_DATASETS,
    patience=PATIENCE,
    init_from=INIT_FROM,
    split_file=SPLIT,
    threads=1 if SMALL else 0,
)
result = train(
    config,
    progress=lambda r: print(
        f"epoch {r['epoch']}/{r['epochs']}: loss {r['loss']:.4f}, "
        f"val EER {r['val_eer']:.4f}, {r['images_per_s']:.0f} img/s"
    ),
)
history = pd.DataFrame(result.history)
history

# %%
fig, (ax_loss, ax_eer) = plt.subplots(1, 2, figsize=(10, 3))
ax_loss.plot(history["epoch"], history["loss"], marker="o")
ax_loss.set(title="training loss", xlabel="epoch")
ax_eer.plot(history["epoch"], 100 * history["val_eer"], marker="o", label="skilled")
if "val_eer_random" in history:
    ax_eer.plot(history["epoch"], 100 * history["val_eer_random"], marker="o", label="random")
ax_eer.set(title="validation EER (held-out writers)", xlabel="epoch", ylabel="%")
ax_eer.legend()
fig.tight_layout()

# %% [markdown]
# The model directory holds `model.safetensors` and `model_card.json` (written atomically, with the
# weights' sha256). Below the card's key figures, a markdown card beside it, and a reload that checks the
# sha256. To ship it: `sigverify publish --model <dir> ...` (see the README).

# %%
from sigverify.card_markdown import render_markdown
from sigverify.weights import load_model

card = result.card
(result.model_dir / "MODEL_CARD.md").write_text(render_markdown(card))
_, reloaded = load_model(result.model_dir)  # raises ModelLoadError if the weights do not match the card
print("model dir:", result.model_dir)
print("files:", sorted(p.name for p in result.model_dir.iterdir()))
print("sha256:", reloaded.sha256)
print("input size:", card.input_size, "| preprocessing version:", card.preprocess_version)
print("thresholds:", {k: round(v, 4) if isinstance(v, float) else v for k, v in card.to_dict()["thresholds"].items()})
pd.DataFrame(
    {
        r: {k: v for k, v in m.items() if not isinstance(v, dict)}
        for r, m in card.to_dict()["metrics"]["validation"].items()
    }
)

# %% [markdown]
# ## 2. The same options as a training job (REST API, Celery `gpu` queue)
#
# `datasets` are names of organised datasets on the server (its `organized_data/`); set
# `SIGVERIFY_API_DATASETS` (comma-separated) to choose them. `include_references` and `include_reviewed`
# add the bank's enrolled references and human-reviewed verifications. The job is followed until it ends
# or `FOLLOW_TIMEOUT_S` passes (it keeps running on the worker either way).

# %%
import json
import sys

from IPython.display import Pretty, display

API_URL = os.environ.get("SIGVERIFY_API_URL", "").rstrip("/")
API_TOKEN = os.environ.get("SIGVERIFY_API_TOKEN", "")
API_DATASETS = [
    d for d in os.environ.get("SIGVERIFY_API_DATASETS", "" if SMALL else "cedar,gpds,bengali,hindi").split(",") if d
]
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
    "options": {
        k: v
        for k, v in {
            "input_size": list(INPUT_SIZE),
            "embedding_dim": EMBEDDING_DIM,
            "writers_per_batch": WRITERS_PER_BATCH,
            "steps_per_epoch": STEPS_PER_EPOCH,
            "lr": LR,
            "capture_augment": CAPTURE_AUGMENT,
            "balance_datasets": BALANCE_DATASETS,
            "patience": PATIENCE,
        }.items()
        if v is not None
    },
}
print(json.dumps(job_request, indent=1))

# %%
job = None
if not (API_URL and API_TOKEN):
    print("skipped: set SIGVERIFY_API_URL and SIGVERIFY_API_TOKEN to submit this as a training job")
else:
    # The interface's API client (the one way to call the REST API; interface/ is not an installed package).
    sys.path.insert(0, str(REPO_ROOT / "interface"))
    from api_client import ApiClient

    api = ApiClient(API_URL, token=API_TOKEN, timeout=30)
    job = api.start_training(job_request)  # an ApiError carries the API's message when it refuses the job
    print(f"training job {job['id']} is {job['status']}")
    line = display(Pretty(""), display_id=True)
    deadline = time.monotonic() + FOLLOW_TIMEOUT_S
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(POLL_S)
        job = api.get_training_job(job["id"])
        p = job["progress"]
        line.update(
            Pretty(
                f"{job['status']}: epoch {p['epoch']}/{p['epochs']}, loss {p['loss']}, "
                f"val EER {p['val_eer']}, heartbeat {p['heartbeat_at']}"
            )
        )
    print("status:", job["status"], "| error:", job["error"] or "-", "| model version:", job["model_version"])
    print("\n".join(job["log_tail"].splitlines()[-10:]) if isinstance(job["log_tail"], str) else job["log_tail"])

# %%
if job and job.get("history"):
    remote = pd.DataFrame(job["history"])
    fig, (ax_loss, ax_eer) = plt.subplots(1, 2, figsize=(10, 3))
    ax_loss.plot(remote["epoch"], remote["loss"], marker="o")
    ax_loss.set(title=f"job {job['id']}: training loss", xlabel="epoch")
    ax_eer.plot(remote["epoch"], 100 * remote["val_eer"], marker="o")
    ax_eer.set(title="validation EER", xlabel="epoch", ylabel="%")
    fig.tight_layout()
    # Next: compare it with the active version (04_evaluation), then promote it:
    # POST {API_URL}/model-versions/<id>/promote/
