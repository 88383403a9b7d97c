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
# # 05 · Error analysis
#
# Every query of the protocol scored exactly as the API scores a cheque (`Verifier.score` against the
# writer's first R references, then `Verifier.decide`). Then the worst false accepts (forgeries scored
# most genuine) and the worst false rejects (genuine signatures scored lowest), each shown raw and as the
# model saw it, beside the writer's first reference.

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
import pandas as pd

from sigverify import evaluate as ev
from sigverify.embedding import embed_samples
from sigverify.figures import error_gallery
from sigverify.inference import Verifier
from testsupport.small_settings import train_tiny

if SMALL:  # a tiny model stands in for a real version
    MODEL = train_tiny(DATA_DIRS, WORK / "model", seed=0, loss="triplet-semihard", name="model")
    REFERENCES, SPLIT, TOP_K = 2, None, 3
else:
    MODEL = Path(os.environ.get("SIGVERIFY_MODEL", SHIPPED_MODEL))
    REFERENCES, SPLIT, TOP_K = 5, ("test" if SPLIT_FILE.exists() else None), 8
print("model:", MODEL)

# %%
verifier = Verifier.from_dir(MODEL)
rows = []
for data_dir in DATA_DIRS:
    embeddings, samples = embed_samples(verifier, data_dir, split_file=SPLIT_FILE if SPLIT else None, split=SPLIT)
    groups = ev.group_by_writer([s.writer for s in samples], [s.label for s in samples], [s.sample for s in samples])
    for writer, g in groups.items():
        refs = g["genuine"][:REFERENCES]
        if len(g["genuine"]) <= REFERENCES:
            continue
        for kind, queries in (("genuine", g["genuine"][REFERENCES:]), ("skilled", g["forged"])):
            for i in queries:
                result = verifier.score(embeddings[i], embeddings[refs])
                rows.append(
                    {
                        "data": data_dir.name,
                        "writer": writer,
                        "kind": kind,
                        "sample": samples[i].sample,
                        "score": result.score,
                        "decision": verifier.decide(result.score),
                        "closest distance": min(result.distances),
                        "path": samples[i].path,
                        "reference": samples[refs[0]].path,
                    }
                )
queries = pd.DataFrame(rows)
print(f"accept >= {verifier.accept:.4f}, reject < {verifier.reject:.4f}")
pd.crosstab(queries["kind"], queries["decision"], margins=True)

# %% [markdown]
# ## Worst false accepts
#
# Forgeries the model called `genuine`, highest score first. When there are none, the forgeries that came
# closest.

# %%
forgeries = queries[queries["kind"] == "skilled"].sort_values("score", ascending=False)
accepted = forgeries[forgeries["decision"] == "genuine"]
error_gallery(
    (accepted if len(accepted) else forgeries).head(TOP_K),
    verifier,
    "false accepts" if len(accepted) else "no false accept: the highest-scored forgeries",
)
(accepted if len(accepted) else forgeries).head(TOP_K).drop(columns=["path", "reference"])

# %% [markdown]
# ## Worst false rejects
#
# Genuine signatures the model called `forgery`, lowest score first. When there are none, the genuine
# signatures that scored lowest.

# %%
genuine = queries[queries["kind"] == "genuine"].sort_values("score")
rejected = genuine[genuine["decision"] == "forgery"]
error_gallery(
    (rejected if len(rejected) else genuine).head(TOP_K),
    verifier,
    "false rejects" if len(rejected) else "no false reject: the lowest-scored genuine signatures",
)
(rejected if len(rejected) else genuine).head(TOP_K).drop(columns=["path", "reference"])
