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
# The captures the first stage's training cheques are drawn from: every one of the generator's,
# with thresholded and dithered bilevel drawn more often (a third each, not a sixth), where thin
# strokes break up. The second stage keeps the generator's own mix (``chequegen.CAPTURES``): fitted
# on this one too, it found as many boxes but scored a drawn grey cheque's signatures lower.
TRAINING_CAPTURES = chequegen.CAPTURES + ("bilevel", "dithered", "dithered")


def ink_key() -> str:
    """The ink mask's settings, in the names of cached components and pages (a change refits)."""
    return (
        f"ink{finder.INK_LEVEL}-{finder.FAINT_INK_LEVEL}-thin{finder.THIN_STROKE_SCALE}"
        f"-bilevel{finder.BILEVEL_FAINT_LEVEL}-{finder.DESCREENED_SHARE}-deskew"
        f"-dithered{finder.DITHERED_ISOLATED}-descreen{finder.DESCREEN_SIGMA}-{finder.FLATTEN_SIZE}-features{len(finder.FEATURES)}"
    )


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
        cheque = chequegen.generate_cheque(seed + i, ink, families=families, captures=TRAINING_CAPTURES)
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
    captures = hashlib.sha256(",".join(TRAINING_CAPTURES).encode()).hexdigest()[:6]
    cache = (
        REPO_ROOT
        / "var"
        / "signature-finder"
        / f"components-{cheques}-{seed}-{len(sources)}-{ink_key()}-{captures}.npz"
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
        "faint_ink_level": finder.FAINT_INK_LEVEL,
        "thin_stroke_scale": finder.THIN_STROKE_SCALE,
        "bilevel_faint_level": finder.BILEVEL_FAINT_LEVEL,
        "descreened_share": finder.DESCREENED_SHARE,
        "dithered_isolated": finder.DITHERED_ISOLATED,
        "descreen_sigma": finder.DESCREEN_SIGMA,
        "flatten_size": finder.FLATTEN_SIZE,
        "deskew": {"step_degrees": finder.SKEW_STEP, "max_degrees": finder.SKEW_MAX},
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
            "captures": list(TRAINING_CAPTURES),
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


# ---------------------------------------------------------------- the second stage: candidate boxes

BOXES_SEED_OFFSET = 2_000_000  # its cheques are not the first stage's (whose probabilities are fitted to them)
VAL_PAGES = 40  # per capture: training-layout cheques of validation writers, the second stage's check


def collect_pages(n_cheques: int, seed: int, sources, families, trees, captures=chequegen.CAPTURES, progress=None):
    """[(components without their label image, probabilities, signature boxes)] of generated cheques."""
    pages = []
    rng = np.random.default_rng(seed)
    for i in range(n_cheques):
        name, ink = sources[0] if len(sources) == 1 or rng.random() >= SYNTHETIC_SHARE else sources[-1]
        cheque = chequegen.generate_cheque(seed + i, ink, families=families, captures=captures)
        comps = finder.components(cheque.image)
        comps.labels = np.broadcast_to(np.int32(0), comps.labels.shape)  # only its shape is needed
        probability = trees.probability(comps.features) if len(comps.features) else np.zeros(0)
        pages.append((comps, probability, list(cheque.boxes)))
        if progress:
            progress(i + 1, n_cheques)
    return pages


def save_pages(path, pages) -> None:
    cat = np.concatenate
    comps = [c for c, _, _ in pages]
    np.savez_compressed(
        path,
        counts=np.array([len(c.areas) for c in comps]),
        rule_counts=np.array([len(c.rules) for c in comps]),
        truth_counts=np.array([len(t) for _, _, t in pages]),
        shapes=np.array([c.labels.shape for c in comps]).reshape(-1, 2),
        sizes=np.array([c.size for c in comps]).reshape(-1, 2),
        scales=np.array([c.scale for c in comps]),
        slopes=np.array([c.slope for c in comps]),
        boxes=cat([c.boxes.reshape(-1, 4) for c in comps]),
        areas=cat([c.areas for c in comps]),
        groups=cat([c.groups for c in comps]),
        features=cat([c.features.reshape(-1, len(finder.FEATURES)) for c in comps]),
        rules=cat([c.rules.reshape(-1, 3) for c in comps]),
        probability=cat([p for _, p, _ in pages]),
        truth=np.array([b for _, _, t in pages for b in t], np.float64).reshape(-1, 4),
    )


def load_pages(path) -> list:
    with np.load(path, allow_pickle=False) as z:
        d = {k: z[k] for k in z.files}
    ends = np.cumsum(d["counts"])
    rule_ends, truth_ends = np.cumsum(d["rule_counts"]), np.cumsum(d["truth_counts"])
    pages = []
    for k in range(len(ends)):
        a, b = ends[k] - d["counts"][k], ends[k]
        ra, rb = rule_ends[k] - d["rule_counts"][k], rule_ends[k]
        ta, tb = truth_ends[k] - d["truth_counts"][k], truth_ends[k]
        comps = finder.Components(
            labels=np.broadcast_to(np.int32(0), tuple(d["shapes"][k])),
            boxes=d["boxes"][a:b],
            areas=d["areas"][a:b],
            features=d["features"][a:b],
            groups=d["groups"][a:b],
            scale=float(d["scales"][k]),
            size=tuple(int(v) for v in d["sizes"][k]),
            rules=d["rules"][ra:rb],
            slope=float(d["slopes"][k]) if "slopes" in d else 0.0,
        )
        pages.append((comps, d["probability"][a:b], [tuple(int(v) for v in t) for t in d["truth"][ta:tb]]))
    return pages


def box_rows(pages):
    """(features, targets: best IoU with a signature, page index) of every candidate box."""
    xs, ys, owners = [], [], []
    for k, (comps, probability, truth) in enumerate(pages):
        if len(probability) == 0:
            continue
        boxes, params = finder.candidate_boxes(comps, probability)
        xs.append(finder.box_features(comps, probability, boxes, params))
        ys.append(finder.box_targets(comps, boxes, truth))
        owners.append(np.full(len(boxes), k))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(owners)


def fit_boxes(features: np.ndarray, targets: np.ndarray, seed: int = 0, trees: int = 200, depth: int = 4):
    from sklearn.ensemble import GradientBoostingRegressor

    model = GradientBoostingRegressor(
        n_estimators=trees, max_depth=depth, learning_rate=0.1, subsample=0.8, random_state=seed
    )
    model.fit(features, targets)
    return finder.Trees.from_sklearn(model), model


def pages_found(pages, box_trees) -> dict:
    """On cached pages: signatures matched by a kept box (IoU >= 0.5), cheques whose most
    confident box is a signature, and extra boxes per cheque."""
    matched = total = top = extra = 0
    for comps, probability, truth in pages:
        found = (
            finder.pick_signatures(comps, probability, box_trees)
            if box_trees
            else finder.group_signatures(comps, probability)
        )
        hits = [max((chequegen.iou(f.box, b) for f in found), default=0) >= 0.5 for b in truth]
        matched += sum(hits)
        total += len(hits)
        top += bool(found) and max(chequegen.iou(found[0].box, b) for b in truth) >= 0.5
        extra += sum(max(chequegen.iou(f.box, b) for b in truth) < 0.5 for f in found)
    n = max(len(pages), 1)
    return {
        "signatures_found": round(matched / max(total, 1), 4),
        "top_box_found": round(top / n, 4),
        "extra_boxes_per_cheque": round(extra / n, 3),
        "cheques": len(pages),
    }


def train_boxes(
    out_dir,
    datasets_root=None,
    splits_path="image_pairs/splits.csv",
    cheques: int = 600,
    seed: int = 0,
    trees: int = 200,
    depth: int = 4,
    log=print,
) -> dict:
    """The second stage: regression trees that predict each candidate box's IoU with a written
    signature, fitted on cheques of the TRAINING layouts signed by TRAINING writers (other
    cheques than the first stage's), scored with the first stage's shipped trees. Checked on
    training-layout cheques of the validation writers (the held-out layouts are left to the
    benchmark)."""
    out_dir = Path(out_dir)
    started = time.time()
    component_trees = finder.Trees.load(out_dir / finder.MODEL_PATH.name)
    sha = hashlib.sha256((out_dir / finder.MODEL_PATH.name).read_bytes()).hexdigest()
    cache_dir = REPO_ROOT / "var" / "signature-finder"
    cache_dir.mkdir(parents=True, exist_ok=True)

    def pages_for(name, n, first_seed, sources, captures):
        # The components do not depend on the trees: cached once, scored again with these trees.
        ink = ink_key()
        families = hashlib.sha256(",".join(chequegen.TRAINING_FAMILIES).encode()).hexdigest()[:8]
        cache = cache_dir / f"pages-{name}-{n}-{first_seed}-{len(sources)}-{ink}-{families}.npz"
        if cache.exists():
            log(f"pages read from {cache}")
            pages = load_pages(cache)
            return [(c, component_trees.probability(c.features), truth) for c, _, truth in pages]

        def progress(done, total):
            if done % 100 == 0 or done == total:
                log(f"  {name}: {done}/{total} cheques ({time.time() - started:.0f} s)")

        pages = collect_pages(n, first_seed, sources, chequegen.TRAINING_FAMILIES, component_trees, captures, progress)
        save_pages(cache, pages)
        return pages

    sources = ink_sources(datasets_root, splits_path, "train")
    pages = pages_for("train", cheques, BOXES_SEED_OFFSET + seed, sources, chequegen.CAPTURES)
    x, y, _ = box_rows(pages)
    log(f"{len(y)} candidate boxes on {len(pages)} cheques, {int((y >= 0.5).sum())} of them a signature")
    box_trees, _ = fit_boxes(x, y, seed, trees, depth)
    path = out_dir / finder.BOXES_PATH.name
    box_trees.save(path)
    val_sources = ink_sources(datasets_root, splits_path, "val")[:1]
    checks = {}
    for capture in CARD_CAPTURES:
        check = pages_for(f"val-{capture}", VAL_PAGES, BOXES_SEED_OFFSET + 500_000 + seed, val_sources, (capture,))
        checks[capture] = {"second_stage": pages_found(check, box_trees), "rules": pages_found(check, None)}
    log(f"training layouts, validation writers: {json.dumps(checks)}")
    card = {
        "name": "signature-boxes",
        "kind": "regression trees predicting a candidate box's IoU with a signature (scikit-learn"
        " GradientBoostingRegressor, arrays only)",
        "features": list(finder.BOX_FEATURES),
        "candidates": {
            "thresholds": list(finder.CANDIDATE_THRESHOLDS),
            "gap_scales": list(finder.CANDIDATE_GAPS),
            "pair_gap": list(finder.PAIR_GAP),
            "max_candidates": finder.MAX_CANDIDATES,
        },
        "min_confidence": finder.MIN_CONFIDENCE,
        "component_trees_sha256": sha,
        "trees": trees,
        "depth": depth,
        "seed": seed,
        "training": {
            "cheques": cheques,
            "candidates": int(len(y)),
            "signature_candidates": int((y >= 0.5).sum()),
            "families": list(chequegen.TRAINING_FAMILIES),
            "ink": [name for name, _ in sources],
            "writers": "train split of image_pairs/splits.csv (plus synthetic ink)",
            "captures": list(chequegen.CAPTURES),
        },
        "validation": {
            "families": list(chequegen.TRAINING_FAMILIES),
            "writers": f"val split ({val_sources[0][0]})",
            "box_found": checks,
        },
        "command": f"python -m sigverify train-signature-finder --boxes-only --box-cheques {cheques} --seed {seed}"
        + (" --datasets ../shared/datasets" if datasets_root else ""),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "seconds": round(time.time() - started),
    }
    (out_dir / finder.BOXES_CARD_PATH.name).write_text(json.dumps(card, indent=2) + "\n")
    return card
