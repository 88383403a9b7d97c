"""Training-time augmentation on batches of ink maps (ink bright on zero)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.transforms import v2

# What ``SignatureAugment`` does, as the model card names it (``card_markdown``): change with the code.
AUGMENTATIONS = ("rotation", "scale", "shift", "shear", "stroke width", "ink intensity")
CAPTURE_AUGMENTATIONS = ("random binarisation", "lower resolution", "blur")


class SignatureAugment:
    """Small rotation, scale and shift; stroke-width change; ink intensity jitter.

    With ``capture``, also what differs between scanners and archives: random binarisation
    (bilevel cheque images), a lower resolution (down- then up-scaling) and blur.
    Each sample of a batch draws its own parameters.
    """

    def __init__(
        self,
        degrees=5.0,
        translate=0.05,
        scale=(0.9, 1.1),
        shear=5.0,
        stroke_p=0.4,
        seed=None,
        capture=False,
        binarise_p=0.3,
        rescale_p=0.3,
        blur_p=0.2,
    ):
        self.affine = v2.RandomAffine(degrees=degrees, translate=(translate, translate), scale=scale, shear=shear)
        self.stroke_p = stroke_p
        self.capture = capture
        self.binarise_p, self.rescale_p, self.blur_p = binarise_p, rescale_p, blur_p
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
        x = (x * gain).clamp_(0.0, 1.0)
        return self._capture(x) if self.capture else x

    def _capture(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        pick = lambda p: (self._rand(n) < p).view(-1, 1, 1, 1)  # noqa: E731
        factor = float(0.35 + 0.4 * self._rand(1))
        small = F.interpolate(x, scale_factor=factor, mode="bilinear", antialias=True)
        x = torch.where(pick(self.rescale_p), F.interpolate(small, size=(h, w), mode="bilinear"), x)
        blurred = v2.functional.gaussian_blur(x, kernel_size=5, sigma=float(0.4 + 0.8 * self._rand(1)))
        x = torch.where(pick(self.blur_p), blurred, x)
        level = (0.15 + 0.45 * self._rand(n)).view(-1, 1, 1, 1)
        return torch.where(pick(self.binarise_p), (x > level).float(), x)


def reference_duplicates(arrays, copies: int, seed: int = 0) -> list:
    """Synthetic duplicates of reference images (uint8 ink maps, as preprocessed): ``copies`` of each,
    an elastic distortion (a pen's wobble) after the training augmentation's rotation, scale, shift,
    shear, stroke width and ink intensity. Returned as uint8 ink maps, ready for ``embed_arrays``."""
    import numpy as np

    arrays = [np.asarray(a) for a in arrays]
    if not arrays or copies <= 0:
        return []
    torch.manual_seed(seed)  # torchvision's random transforms draw from the global generator
    affine = SignatureAugment(seed=seed)
    elastic = v2.ElasticTransform(alpha=12.0, sigma=4.0)
    x = torch.from_numpy(np.stack(arrays).astype(np.float32) / 255.0).unsqueeze(1)
    x = x.repeat_interleave(copies, dim=0)
    x = torch.stack([elastic(img) for img in affine(x)])
    return list((x.squeeze(1).clamp(0, 1) * 255.0).round().to(torch.uint8).numpy())
