"""Capture conditions simulated on any dataset: the paper repainted (the CEDAR background trap),
bilevel archive scans, half the scan resolution (``sigverify evaluate --capture``)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .preprocess import otsu_threshold, to_greyscale

# Paper levels of CEDAR's scans (README of the development data): genuine grey, forgeries white.
GREY_PAPER, WHITE_PAPER = 239.0, 254.0


def swap_background(image: Image.Image, genuine: bool) -> Image.Image:
    """Repaint the paper: genuine images get white paper, forgeries grey (the trap reversed)."""
    grey = to_greyscale(image)
    ink = grey < otsu_threshold(grey)
    paper = float(np.median(grey[~ink])) if (~ink).any() else 255.0
    target = WHITE_PAPER if genuine else GREY_PAPER
    out = np.where(ink, grey, np.clip(grey + (target - paper), 0, 255))
    return Image.fromarray(out.astype(np.uint8))


def as_bilevel(image: Image.Image) -> Image.Image:
    """What a cheque archive stores: 1-bit ink on white, cut at Otsu's threshold."""
    grey = to_greyscale(image)
    return Image.fromarray(np.where(grey < otsu_threshold(grey), 0, 255).astype(np.uint8)).convert("1")


def half_resolution(image: Image.Image) -> Image.Image:
    """The same paper scanned at half the dpi."""
    return image.resize((max(1, image.width // 2), max(1, image.height // 2)), Image.Resampling.LANCZOS)


# Capture conditions an evaluation can simulate on any dataset (``evaluate --capture``).
CAPTURES = {"bilevel": as_bilevel, "half-resolution": half_resolution}
