"""Training-time augmentation on batches of ink maps (ink bright on zero)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.transforms import v2


class SignatureAugment:
    """Small rotation, scale and shift; stroke-width change; ink intensity jitter.

    Each sample of a batch draws its own parameters.
    """

    def __init__(self, degrees=5.0, translate=0.05, scale=(0.9, 1.1), shear=5.0, stroke_p=0.4, seed=None):
        self.affine = v2.RandomAffine(degrees=degrees, translate=(translate, translate), scale=scale, shear=shear)
        self.stroke_p = stroke_p
        self.generator = torch.Generator().manual_seed(seed) if seed is not None else None

    def _rand(self, n):
        return torch.rand(n, generator=self.generator)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 1, H, W) float in [0, 1] -> augmented copy."""
        x = torch.stack([self.affine(img) for img in x])
        r = self._rand(len(x))
        thicker = (r < self.stroke_p / 2).view(-1, 1, 1, 1)
        thinner = ((r >= self.stroke_p / 2) & (r < self.stroke_p)).view(-1, 1, 1, 1)
        dilated = F.max_pool2d(x, 3, stride=1, padding=1)
        eroded = -F.max_pool2d(-x, 3, stride=1, padding=1)
        x = torch.where(thicker, dilated, torch.where(thinner, eroded, x))
        gain = (0.75 + 0.5 * self._rand(len(x))).view(-1, 1, 1, 1)
        return (x * gain).clamp_(0.0, 1.0)
