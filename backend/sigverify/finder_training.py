"""Train the signature finder's trees on generated cheques: ``python -m sigverify train-signature-finder``.

Cheques of the TRAINING layout families, signed and filled in by TRAINING writers (the
development datasets' ``train`` split, plus synthetic ink so that a drawn signature is no
stranger), every capture. Each ink component's features and target (is it signature ink?)
go to scikit-learn's ``GradientBoostingClassifier``; only its numbers are kept
(``signature_finder.Trees``, an ``.npz`` read without pickle) with a JSON card saying how it
was made and how it did on cheques of the held-out families. Deterministic for a seed.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from . import chequegen
from . import signature_finder as finder

REPO_ROOT = Path(__file__).resolve().parents[2]

EVAL_SEED_OFFSET = 1_000_000  # evaluation cheques never share a seed with training cheques
SYNTHETIC_SHARE = 0.25
CARD_CAPTURES = ("grey", "bilevel", "dithered")


def ink_sources(datasets_root, splits_path, split: str):
    """[(name, ink source)]: the datasets' writers of ``split`` when present, and synthetic ink."""
    sources = []
    if datasets_root and Path(datasets_root).is_dir():
        from .pairs import read_splits

        try:
            sources.append(("datasets", chequegen.DatasetInk(datasets_root, read_splits(splits_path), split)))
        except ValueError:
            pass
    sources.append(("synthetic", chequegen.SyntheticInk(split)))
    return sources


def collect(n_cheques: int, seed: int, sources, families, progress=None):
    """(features, targets, cheque index) of every ink component on ``n_cheques`` generated cheques."""
    xs, ys, owners = [], [], []
    rng = np.random.default_rng(seed)
    for i in range(n_cheques):
        name, ink = sources[0] if len(sources) == 1 or rng.random() >= SYNTHETIC_SHARE else sources[-1]
        cheque = chequegen.generate_cheque(seed + i, ink, families=families)
        comps = finder.components(cheque.image)
        xs.append(comps.features)
        ys.append(finder.component_targets(comps, cheque.classes))
        owners.append(np.full(len(ys[-1]), i))
        if progress:
            progress(i + 1, n_cheques)
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(owners)


def fit(features: np.ndarray, targets: np.ndarray, seed: int = 0, trees: int = 150, depth: int = 4):
    from sklearn.ensemble import GradientBoostingClassifier

    model = GradientBoostingClassifier(
        n_estimators=trees, max_depth=depth, learning_rate=0.1, subsample=0.8, random_state=seed
    )
    model.fit(features, targets)
    return finder.Trees.from_sklearn(model), model


def box_found_rate(trees, n_cheques: int, seed: int, ink, families, captures=chequegen.CAPTURES) -> dict:
    """Per capture: the share of written signatures matched by a found box (IoU >= 0.5), the
    share of cheques where every signature was, and extra boxes per cheque."""
    out = {}
    for capture in captures:
        matched = total = whole = extra = 0
        for i in range(n_cheques):
            cheque = chequegen.generate_cheque(seed + i, ink, families=families, capture=capture)
            found = finder.find_signatures(cheque.image, trees)
            hits = [max((chequegen.iou(f.box, b) for f in found), default=0) >= 0.5 for b in cheque.boxes]
            matched += sum(hits)
            total += len(hits)
            whole += all(hits)
            extra += max(0, len(found) - sum(hits))
        out[capture] = {
            "signatures_found": round(matched / max(total, 1), 4),
            "cheques_all_found": round(whole / max(n_cheques, 1), 4),
            "extra_boxes_per_cheque": round(extra / max(n_cheques, 1), 3),
            "cheques": n_cheques,
        }
    return out


def train(
    out_dir,
    datasets_root=None,
    splits_path="image_pairs/splits.csv",
    cheques: int = 400,
    eval_cheques: int = 40,
    seed: int = 0,
    trees: int = 150,
    depth: int = 4,
    log=print,
) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    sources = ink_sources(datasets_root, splits_path, "train")
    log(f"ink: {', '.join(name for name, _ in sources)}; {cheques} cheques of {', '.join(chequegen.TRAINING_FAMILIES)}")

    def progress(done, total):
        if done % 50 == 0 or done == total:
            log(f"  generated {done}/{total} ({time.time() - started:.0f} s)")

    # Generating is the slow part: the components are kept (var/, git-ignored) for refits.
    cache = (
        REPO_ROOT / "var" / "signature-finder" / f"components-{cheques}-{seed}-{len(sources)}-ink{finder.INK_LEVEL}.npz"
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    if cache.exists():
        with np.load(cache, allow_pickle=False) as z:
            x, y = z["x"], z["y"]
        log(f"components read from {cache}")
    else:
        x, y, _ = collect(cheques, seed, sources, chequegen.TRAINING_FAMILIES, progress)
        np.savez_compressed(cache, x=x, y=y)
    log(f"{len(y)} components, {int(y.sum())} of signatures; fitting {trees} trees of depth {depth}")
    model_trees, _ = fit(x, y, seed, trees, depth)
    path = out_dir / finder.MODEL_PATH.name
    model_trees.save(path)
    log(f"trees -> {path} ({path.stat().st_size // 1024} KiB); fitted in {time.time() - started:.0f} s")

    # Held-out families, validation writers: how the finder does on layouts it has not seen.
    val_sources = ink_sources(datasets_root, splits_path, "val")
    val_ink = val_sources[0][1]
    held_out = box_found_rate(
        model_trees, eval_cheques, EVAL_SEED_OFFSET + seed, val_ink, chequegen.HELD_OUT_FAMILIES, CARD_CAPTURES
    )
    log(f"held-out layouts ({val_sources[0][0]} validation writers): {json.dumps(held_out)}")
    card = {
        "name": "signature-finder",
        "kind": "gradient-boosted trees over ink components (scikit-learn GradientBoostingClassifier, arrays only)",
        "features": list(finder.FEATURES),
        "work_height": finder.WORK_HEIGHT,
        "ink_level": finder.INK_LEVEL,
        "trees": trees,
        "depth": depth,
        "seed": seed,
        "training": {
            "cheques": cheques,
            "components": int(len(y)),
            "signature_components": int(y.sum()),
            "families": list(chequegen.TRAINING_FAMILIES),
            "ink": [name for name, _ in sources],
            "writers": "train split of image_pairs/splits.csv (plus synthetic ink)",
            "synthetic_share": SYNTHETIC_SHARE,
        },
        "held_out": {
            "families": list(chequegen.HELD_OUT_FAMILIES),
            "writers": f"val split ({val_sources[0][0]})",
            "box_found": held_out,
        },
        "command": (
            f"python -m sigverify train-signature-finder --cheques {cheques} --seed {seed} --trees {trees}"
            f" --depth {depth}" + (" --datasets ../shared/datasets" if datasets_root else "")
        ),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "seconds": round(time.time() - started),
    }
    (out_dir / finder.CARD_PATH.name).write_text(json.dumps(card, indent=2) + "\n")
    return card
