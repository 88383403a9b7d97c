"""Siamese ResNet18: one twin network that maps a signature to an L2-normalised embedding."""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

DEFAULT_EMBEDDING_DIM = 256


class SignatureEmbedder(nn.Module):
    """ResNet18 (1-channel input) + linear head -> unit-length embedding.

    The two branches of the Siamese pair share this one module.
    """

    def __init__(self, embedding_dim: int = DEFAULT_EMBEDDING_DIM):
        super().__init__()
        backbone = torchvision.models.resnet18(weights=None)
        backbone.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        backbone.fc = nn.Identity()
        self.backbone = backbone
        self.head = nn.Linear(512, embedding_dim)
        self.embedding_dim = embedding_dim

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def embed_features(self, feats: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head(feats.float()), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed_features(self.features(x))

    def distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Cosine distance of the pair's embeddings: 0 same, 2 opposite."""
        return 1.0 - (self(a) * self(b)).sum(dim=1)


class TrainingHeads(nn.Module):
    """Training-only heads, not shipped: writer classification and genuine/forged."""

    def __init__(self, embedding_dim: int, num_writers: int, scale: float = 30.0, margin: float = 0.25):
        super().__init__()
        self.writer_weight = nn.Parameter(torch.randn(num_writers, embedding_dim) * 0.01)
        self.forgery = nn.Linear(512, 1)
        self.scale = scale
        self.margin = margin

    def writer_logits(self, embeddings: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """CosFace logits: cosine to each writer's centre, margin on the true class."""
        cos = embeddings @ F.normalize(self.writer_weight, dim=1).t()
        if targets is not None:
            cos = cos - self.margin * F.one_hot(targets, cos.shape[1]).to(cos.dtype)
        return self.scale * cos

    def forgery_logit(self, feats: torch.Tensor) -> torch.Tensor:
        return self.forgery(feats.float()).squeeze(1)
