"""Training of the Siamese embedder: the one code path used by the CLI, notebooks and Celery.

Objective per batch (P writers x (K genuine + F skilled forgeries)):
    metric loss (triplet with online mining, or contrastive; a writer's forgeries are its negatives)
  + writer_weight  * CosFace writer classification on genuine samples
  + forgery_weight * genuine/forged classification (SigNet-F's forgery head)

Validation is the evaluation protocol on held-out writers (skilled-forgery EER), which drives
early stopping. At the end the best weights are calibrated on the validation writers and
written with a model card, atomically.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm.auto import tqdm

from . import evaluate as ev
from .augment import SignatureAugment
from .cache import ImageCache
from .card import Data, Metrics, ModelCard, Recipe, Scoring, Thresholds
from .datasets import load_dataset
from .errors import DatasetError
from .losses import metric_loss
from .model import SignatureEmbedder, TrainingHeads
from .options import TrainConfig
from .pairs import assign_splits_per_dataset, read_splits, writer_key
from .preprocess import PREPROCESS_VERSION
from .weights import save_model


class TrainingCancelled(Exception):
    """``should_stop`` asked the run to end; the last checkpoint is kept for resuming."""


@dataclass
class TrainResult:
    model_dir: Path
    card: ModelCard
    history: list


@dataclass
class _Pool:
    """All images of all datasets, as rows of memory-mapped caches."""

    caches: list
    rows: list  # (cache index, row)
    writers: list  # writer key per image
    forged: np.ndarray
    numbers: list
    split: list


def _load_pool(config: TrainConfig, log) -> _Pool:
    caches, rows, writers, forged, numbers = [], [], [], [], []
    for d in config.data:
        root, samples = load_dataset(d)
        cache = ImageCache.build(samples, root, config.input_size)
        ci = len(caches)
        caches.append(cache)
        name = Path(d).resolve().name
        for i, s in enumerate(samples):
            if cache.valid[i]:
                rows.append((ci, i))
                writers.append(writer_key(name, s.writer))
                forged.append(not s.is_genuine)
                numbers.append(s.sample)
        log(f"data {d}: {len(samples)} images, {len({s.writer for s in samples})} writers")
    if config.split_file:
        splits = read_splits(config.split_file)
        missing = sorted(set(writers) - set(splits))
        if missing:  # writers new since the split file: assign them the same way
            splits.update(assign_splits_per_dataset(missing, config.val_fraction, config.test_fraction, config.seed))
    else:
        splits = assign_splits_per_dataset(set(writers), config.val_fraction, config.test_fraction, config.seed)
    split = [splits[w] for w in writers]
    return _Pool(caches, rows, writers, np.asarray(forged, dtype=bool), numbers, split)


def _images(pool: _Pool, indices) -> torch.Tensor:
    arr = np.stack([pool.caches[pool.rows[i][0]].arrays[pool.rows[i][1]] for i in indices])
    return torch.from_numpy(arr.astype(np.float32) / 255.0).unsqueeze(1)


def _resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _use_bf16(precision: str, device: torch.device) -> bool:
    if precision == "fp32":
        return False
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    from .inference import bf16_supported

    return precision == "bf16" or bf16_supported()


@torch.no_grad()
def embed_indices(model, pool: _Pool, indices, device, bf16: bool, batch: int = 128) -> np.ndarray:
    model.eval()
    out = []
    for s in range(0, len(indices), batch):
        x = _images(pool, indices[s : s + batch]).to(device).contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out.append(model(x).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.embedding_dim), np.float32)


def _val_groups(pool: _Pool, indices) -> dict:
    """Protocol groups over ``indices``; group members are positions in ``indices``."""
    return ev.group_by_writer(
        [pool.writers[i] for i in indices],
        ["forged" if pool.forged[i] else "genuine" for i in indices],
        [pool.numbers[i] for i in indices],
    )


def validate(model, pool: _Pool, val_idx, device, bf16) -> dict:
    """Skilled and random EER at R=5 (fewer if writers have few genuine) on validation writers."""
    if not val_idx:
        return {"val_eer": float("nan")}
    emb = embed_indices(model, pool, val_idx, device, bf16)
    groups = _val_groups(pool, val_idx)
    min_gen = min(len(g["genuine"]) for g in groups.values())
    refs = max(1, min(ev.THRESHOLD_REFERENCES, min_gen - 1))
    scorer = ev.ScoreModel(**{**ev.ScoreModel().to_dict(), **ev.reference_priors(emb, groups, refs)})
    summary = ev.summarise(ev.protocol_scores(emb, groups, refs, scorer), scorer)
    return {"val_eer": summary["skilled"]["eer"], "val_eer_random": summary["random"]["eer"], "val_refs": refs}


def writer_classes(writers: torch.Tensor, forged: torch.Tensor, num_writers: int, forgery_classes: bool):
    """(class per sample, which samples the writer head trains on).

    Plain: genuine samples only, class = writer. With ``forgery_classes`` every sample counts
    and writer W's forgeries are class ``num_writers + W``.
    """
    if forgery_classes:
        return writers + num_writers * forged.long(), torch.ones_like(forged)
    return writers, ~forged


def _warmup_cosine(total_steps: int, warmup: float = 0.05, floor: float = 0.02):
    """LR factor per step: linear warm-up, then cosine decay. A plain function of the step,
    so a resumed run with more epochs simply stretches the remaining curve."""

    def factor(step: int) -> float:
        w = max(1, int(warmup * total_steps))
        if step < w:
            return (step + 1) / w
        t = min(1.0, (step - w) / max(1, total_steps - w))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))

    return factor


class WriterBatchSampler(Sampler[list[int]]):
    """P writers x (K genuine + F forged) per batch, ``steps`` batches per pass, from a seeded
    ``random.Random`` that carries on from one epoch to the next (reseeded on resume)."""

    def __init__(self, pool: _Pool, train_idx, config: TrainConfig, steps: int, rng: random.Random):
        self.rng, self.config, self.steps = rng, config, steps
        self.genuine, self.forged = {}, {}
        for i in train_idx:
            target = self.forged if pool.forged[i] else self.genuine
            target.setdefault(pool.writers[i], []).append(i)
        self.writers = sorted(self.genuine)
        if len(self.writers) < 2:
            raise DatasetError("training needs at least 2 writers with genuine signatures in the train split")

    def _writers(self) -> list:
        c = self.config
        n = min(c.writers_per_batch, len(self.writers))
        if not c.balance_datasets:
            return self.rng.sample(self.writers, n)
        by_dataset = {}
        for w in self.writers:
            by_dataset.setdefault(w.split("/", 1)[0], []).append(w)
        pools = [self.rng.sample(ws, len(ws)) for _, ws in sorted(by_dataset.items())]
        self.rng.shuffle(pools)
        chosen = []
        while len(chosen) < n:  # round-robin over datasets, each shuffled
            for pool in pools:
                if pool and len(chosen) < n:
                    chosen.append(pool.pop())
        return chosen

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        for _ in range(self.steps):
            yield self.batch()

    def batch(self) -> list:
        c = self.config
        chosen = self._writers()
        out = []
        for w in chosen:
            gen = self.genuine[w]
            out += (
                self.rng.sample(gen, c.genuine_per_writer)
                if len(gen) >= c.genuine_per_writer
                else [self.rng.choice(gen) for _ in range(c.genuine_per_writer)]
            )
            forg = self.forged.get(w, [])
            if forg and c.forged_per_writer:
                out += [self.rng.choice(forg) for _ in range(c.forged_per_writer)]
        return out


class PoolImages(Dataset):
    """One pool image by index: (ink map 1xHxW in [0, 1], writer class, forged)."""

    def __init__(self, pool: _Pool, writer_index: dict):
        self.pool, self.writer_index = pool, writer_index

    def __len__(self) -> int:
        return len(self.pool.rows)

    def __getitem__(self, i):
        return _images(self.pool, [i])[0], self.writer_index[self.pool.writers[i]], bool(self.pool.forged[i])


def train_loader(pool: _Pool, sampler: WriterBatchSampler, writer_index: dict) -> DataLoader:
    # In-process loading (the cache is memory-mapped). The loader's own generator keeps it off
    # torch's global RNG, which augmentation draws from.
    return DataLoader(PoolImages(pool, writer_index), batch_sampler=sampler, num_workers=0, generator=torch.Generator())


@dataclass
class _Trainee:
    """What training updates: the embedder, its training-only heads, their optimiser and
    schedule, and the moving average of the weights when there is one."""

    model: SignatureEmbedder
    heads: TrainingHeads
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    ema: AveragedModel | None

    @property
    def served(self) -> SignatureEmbedder:
        """What is validated, kept and shipped."""
        return self.ema.module if self.ema is not None else self.model


def _build_trainee(config: TrainConfig, classes: int, total_steps: int, device, log) -> _Trainee:
    model = SignatureEmbedder(config.embedding_dim)
    if config.init_from:
        from .weights import load_model

        start, start_card = load_model(config.init_from)
        model.load_state_dict(start.state_dict())
        log(f"warm start from {config.init_from} (version {start_card.version})")
    model = model.to(device).to(memory_format=torch.channels_last)
    heads = TrainingHeads(config.embedding_dim, classes).to(device)
    params = list(model.parameters()) + list(heads.parameters())
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _warmup_cosine(total_steps))
    ema = (
        AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
        if config.ema_decay
        else None
    )
    return _Trainee(model, heads, optimizer, scheduler, ema)


# --- checkpoints: the format a resumed run reads; keep its keys -------------------------


def _new_state() -> dict:
    return {"epoch": 0, "best_eer": None, "best_epoch": 0, "bad_epochs": 0, "history": []}


def save_checkpoint(path: Path, trainee: _Trainee, state: dict) -> None:
    payload = {
        "model": trainee.model.state_dict(),
        **({"ema": trainee.ema.state_dict()} if trainee.ema is not None else {}),
        "heads": trainee.heads.state_dict(),
        "optimizer": trainee.optimizer.state_dict(),
        "scheduler": trainee.scheduler.state_dict(),
        "state": json.dumps(state),
    }
    tmp = path.with_name(path.name + ".part")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, trainee: _Trainee, steps_per_epoch: int, device) -> dict:
    """Restore ``trainee`` from a checkpoint; returns the run state (epochs done, best, history)."""
    saved = torch.load(path, map_location=device, weights_only=True)
    trainee.model.load_state_dict(saved["model"])
    trainee.heads.load_state_dict(saved["heads"])
    if trainee.ema is not None and "ema" in saved:
        trainee.ema.load_state_dict(saved["ema"])
    trainee.optimizer.load_state_dict(saved["optimizer"])
    state = json.loads(saved["state"])
    try:
        trainee.scheduler.load_state_dict(saved["scheduler"])
    except (KeyError, ValueError):  # a checkpoint from an older schedule: restart the curve
        trainee.scheduler.last_epoch = state["epoch"] * steps_per_epoch
    return state


# --- one epoch, validation, early stopping ------------------------------------------------


def _batch_loss(trainee: _Trainee, x, writers, forged, config: TrainConfig, num_writers: int, bf16: bool):
    """Metric loss + weighted writer classification + weighted genuine/forged classification."""
    model, heads = trainee.model, trainee.heads
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        feats = model.features(x)
    emb = model.embed_features(feats)
    loss = metric_loss(config.loss, emb, writers, forged, config.margin)
    if config.writer_weight:
        classes, members = writer_classes(writers, forged, num_writers, config.forgery_classes)
        if members.any():
            logits = heads.writer_logits(emb[members], classes[members])
            loss = loss + config.writer_weight * F.cross_entropy(logits, classes[members])
    if config.forgery_weight:
        loss = loss + config.forgery_weight * F.binary_cross_entropy_with_logits(
            heads.forgery_logit(feats), forged.float()
        )
    return loss


def train_epoch(
    trainee: _Trainee,
    loader: DataLoader,
    config: TrainConfig,
    epoch: int,
    *,
    num_writers: int,
    augment,
    device,
    bf16: bool,
    should_stop=None,
) -> dict:
    """One pass of ``loader``: a step per batch. Returns mean loss, images/s and seconds."""
    trainee.model.train()
    trainee.heads.train()
    t0, seen, total = time.time(), 0, 0.0
    bar = tqdm(loader, desc=f"epoch {epoch}/{config.epochs}", unit="batch", leave=False)
    for step, (x, writers, forged) in enumerate(bar):
        if should_stop and should_stop():
            raise TrainingCancelled(f"cancelled during epoch {epoch}")
        if augment:
            x = augment(x)
        x = x.to(device).contiguous(memory_format=torch.channels_last)
        loss = _batch_loss(trainee, x, writers.to(device), forged.to(device), config, num_writers, bf16)
        trainee.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        trainee.optimizer.step()
        trainee.scheduler.step()
        if trainee.ema is not None:
            trainee.ema.update_parameters(trainee.model)
        seen += len(x)
        total += float(loss.detach())
        bar.set_postfix(loss=f"{total / (step + 1):.3f}")
    elapsed = time.time() - t0
    return {"loss": total / len(loader), "images_per_s": seen / max(elapsed, 1e-9), "seconds": elapsed}


def _improved(state: dict, val_eer: float) -> bool:
    return state["best_eer"] is None or (not math.isnan(val_eer) and val_eer < state["best_eer"] - 1e-6)


def keep_if_best(state: dict, epoch: int, val_eer: float, served, best_path: Path) -> bool:
    """Early stopping's bookkeeping: write the served weights to ``best_path`` if this epoch is
    the best so far (or none is there yet), else count one more epoch without improvement."""
    improved = _improved(state, val_eer)
    if improved or not best_path.exists():
        state["best_eer"], state["best_epoch"], state["bad_epochs"] = val_eer, epoch, 0
        tmp = best_path.with_name(best_path.name + ".part")
        save_file({k: v.detach().float().cpu().contiguous() for k, v in served.state_dict().items()}, str(tmp))
        os.replace(tmp, best_path)
    else:
        state["bad_epochs"] += 1
    return improved


def should_continue(state: dict, config: TrainConfig) -> bool:
    return state["epoch"] < config.epochs and state["bad_epochs"] < config.patience


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train(
    config: TrainConfig,
    progress: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train, validate each epoch, keep the best weights, stop early; write the calibrated model dir."""
    started = time.time()
    _seed_everything(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = _resolve_device(config.device)
    bf16 = _use_bf16(config.precision, device)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    pool = _load_pool(config, log)
    train_idx = [i for i, s in enumerate(pool.split) if s == "train"]
    val_idx = [i for i, s in enumerate(pool.split) if s == "val"]
    train_writers = sorted({pool.writers[i] for i in train_idx})
    if not val_idx:
        raise DatasetError(
            "no validation writers: the thresholds a model ships with are fitted on them (raise val_fraction)"
        )
    log(
        f"writers: {len(train_writers)} train, {len({pool.writers[i] for i in val_idx})} val; "
        f"images: {len(train_idx)} train, {len(val_idx)} val; device {device}, bf16={bf16}"
    )

    batch_size = config.writers_per_batch * (config.genuine_per_writer + config.forged_per_writer)
    steps = config.steps_per_epoch or max(1, math.ceil(len(train_idx) / batch_size))
    classes = len(train_writers) * (2 if config.forgery_classes else 1)
    trainee = _build_trainee(config, classes, steps * config.epochs, device, log)
    augment = SignatureAugment(capture=config.capture_augment) if config.augment else None
    sampler = WriterBatchSampler(pool, train_idx, config, steps, random.Random(config.seed))
    loader = train_loader(pool, sampler, {w: k for k, w in enumerate(train_writers)})

    checkpoint = out_dir / "checkpoint.pt"
    best_path = out_dir / "best.safetensors"
    state = _new_state()
    if config.resume and checkpoint.exists():
        state = load_checkpoint(checkpoint, trainee, steps, device)
        sampler.rng.seed(config.seed + state["epoch"])
        torch.manual_seed(config.seed + state["epoch"])
        log(f"resumed from {checkpoint} after epoch {state['epoch']}")

    while should_continue(state, config):
        epoch = state["epoch"] + 1
        fit = train_epoch(
            trainee,
            loader,
            config,
            epoch,
            num_writers=len(train_writers),
            augment=augment,
            device=device,
            bf16=bf16,
            should_stop=should_stop,
        )
        val = validate(trainee.served, pool, val_idx, device, bf16)
        record = {"epoch": epoch, "epochs": config.epochs, **fit, **val}
        improved = keep_if_best(state, epoch, val["val_eer"], trainee.served, best_path)
        state["epoch"] = epoch
        state["history"].append(record)
        save_checkpoint(checkpoint, trainee, state)
        log(
            f"epoch {epoch}/{config.epochs} loss {record['loss']:.4f} val_eer {val['val_eer']:.4f} "
            f"val_eer_random {val.get('val_eer_random', float('nan')):.4f} "
            f"{record['images_per_s']:.1f} img/s{' *' if improved else ''}"
        )
        if progress:
            progress(dict(record, best_eer=state["best_eer"]))

    model = trainee.model
    model.load_state_dict(load_file(str(best_path), device=str(device)))
    model.eval()
    card = _calibrated_card(model, pool, val_idx, device, bf16, config, state, time.time() - started)
    model_dir, written = _write_model_dir(model, out_dir / "model", card)
    log(f"model written to {model_dir} (best epoch {state['best_epoch']}, val EER {state['best_eer']})")
    return TrainResult(model_dir, written, state["history"])


def _calibrated_card(model, pool, val_idx, device, bf16, config, state, seconds) -> dict:
    """The card's fields but those the weights decide (``save_model`` adds sha256 and embedding size)."""
    emb = embed_indices(model, pool, val_idx, device, bf16)
    groups = _val_groups(pool, val_idx)
    scorer = ev.fit_scorer(emb, groups)
    thresholds = Thresholds(**ev.operating_points(emb, groups, scorer))
    validation = {
        f"R{r}": ev.summarise(ev.protocol_scores(emb, groups, r, scorer), scorer, thresholds.eer)
        for r in (1, ev.THRESHOLD_REFERENCES)
    }
    writers_by_split = {}
    for w, s in zip(pool.writers, pool.split, strict=True):
        writers_by_split.setdefault(s, set()).add(w)
    return {
        "name": config.name,
        "version": time.strftime("%Y%m%d-%H%M%S"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "architecture": "Siamese ResNet18 (1-channel conv1) + linear head, L2-normalised embedding",
        "input_size": list(config.input_size),
        "preprocess_version": PREPROCESS_VERSION,
        "scoring": Scoring(**scorer.to_dict()),
        "thresholds": thresholds,
        "metrics": Metrics(validation=validation),
        "data": Data(
            datasets=[str(d) for d in config.data], writers={s: sorted(ws) for s, ws in writers_by_split.items()}
        ),
        "recipe": Recipe(
            **{
                **config.model_dump(mode="json"),
                "epochs_run": state["epoch"],
                "best_epoch": state["best_epoch"],
                "best_val_eer": state["best_eer"],
                "training_seconds": round(seconds, 1),
                "bf16_autocast": bf16,
                "device": str(device),  # the one resolved from config.device
                "history": state["history"],
            }
        ),
    }


def _write_model_dir(model, target: Path, card: dict) -> tuple[Path, ModelCard]:
    """Write into ``<target>.part/`` and rename, so a half-written model dir never appears."""
    part = target.with_name(target.name + ".part")
    shutil.rmtree(part, ignore_errors=True)
    written = save_model(model, part, card)
    if target.exists():
        shutil.rmtree(target)
    os.replace(part, target)
    return target, written
