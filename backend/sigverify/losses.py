"""Metric-learning losses over a batch of embeddings with writer ids and forgery flags.

Who may be paired with whom:
- positive: two genuine signatures of the same writer;
- negative: a genuine signature of W against any sample of another writer, or against a
  skilled forgery *of W* (the hardest and most useful negative);
- anything else (forgery against forgery) is ignored.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .options import LOSSES  # declared with the training options


def pair_masks(writers: torch.Tensor, forged: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive, negative) boolean matrices, rows are anchors (genuine only)."""
    same = writers[:, None] == writers[None, :]
    genuine = ~forged
    anchor = genuine[:, None]
    eye = torch.eye(len(writers), dtype=torch.bool, device=writers.device)
    positive = anchor & genuine[None, :] & same & ~eye
    negative = anchor & (~same | forged[None, :])
    return positive, negative


def cosine_distances(embeddings: torch.Tensor) -> torch.Tensor:
    return (1.0 - embeddings @ embeddings.t()).clamp_min(0.0)


def contrastive_loss(embeddings, writers, forged, margin: float = 0.5) -> torch.Tensor:
    """Pull positives together, push negatives beyond ``margin`` (cosine distance)."""
    dist = cosine_distances(embeddings)
    positive, negative = pair_masks(writers, forged)
    pos = dist[positive]
    neg = F.relu(margin - dist[negative])
    # Balance the two sides: there are far more negatives than positives.
    pos_term = pos.pow(2).mean() if pos.numel() else dist.new_zeros(())
    neg_term = neg.pow(2).mean() if neg.numel() else dist.new_zeros(())
    return pos_term + neg_term


def triplet_loss(embeddings, writers, forged, margin: float = 0.2, mining: str = "semihard") -> torch.Tensor:
    """Online-mined triplets over all valid (anchor, positive) pairs of the batch.

    ``hard``: the closest negative of each anchor.
    ``semihard``: the closest negative farther than the positive (FaceNet), falling back to
    the hardest one when none is.
    """
    dist = cosine_distances(embeddings)
    positive, negative = pair_masks(writers, forged)
    anchors, positives = positive.nonzero(as_tuple=True)
    if anchors.numel() == 0:
        return dist.new_zeros(())
    d_ap = dist[anchors, positives]  # (T,)
    d_an = dist[anchors]  # (T, N)
    neg_mask = negative[anchors]
    inf = torch.finfo(d_an.dtype).max
    hardest = torch.where(neg_mask, d_an, torch.full_like(d_an, inf)).min(dim=1).values
    if mining == "hard":
        chosen = hardest
    elif mining == "semihard":
        semi = neg_mask & (d_an > d_ap[:, None])
        semi_min = torch.where(semi, d_an, torch.full_like(d_an, inf)).min(dim=1).values
        chosen = torch.where(semi.any(dim=1), semi_min, hardest)
    else:
        raise ValueError(f"unknown mining {mining!r}")
    valid = neg_mask.any(dim=1)
    if not valid.any():
        return dist.new_zeros(())
    return F.relu(d_ap - chosen + margin)[valid].mean()


def metric_loss(name: str, embeddings, writers, forged, margin: float | None = None) -> torch.Tensor:
    if name == "contrastive":
        return contrastive_loss(embeddings, writers, forged, margin=0.5 if margin is None else margin)
    if name in ("triplet-semihard", "triplet-hard"):
        return triplet_loss(
            embeddings, writers, forged, margin=0.2 if margin is None else margin, mining=name.split("-")[1]
        )
    raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
