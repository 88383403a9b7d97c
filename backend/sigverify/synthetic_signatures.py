"""Signatures drawn from numbers, for when no data exists (``chequegen.SyntheticInk``: the
finder's training cheques and demos; the tests draw their uploads with it too).

A writer is a seeded random pen path; a genuine sample redraws it with small jitter, a "forgery"
with larger distortion and a different pen. Deterministic for (writer, sample, forged).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def _writer_path(writer: int, points: int = 14) -> np.ndarray:
    rng = np.random.default_rng(10_000 + writer)
    x = np.linspace(0.08, 0.92, points)
    y = 0.5 + np.cumsum(rng.normal(0, 0.12, points))
    y = 0.2 + 0.6 * (y - y.min()) / max(np.ptp(y), 1e-6)
    return np.stack([x, y], axis=1)


def draw_signature(
    writer: int,
    sample: int = 0,
    forged: bool = False,
    size: tuple[int, int] = (300, 150),
    paper: int | tuple = 255,
    ink: int | tuple = 20,
    mode: str = "L",
    pen: int | None = None,
) -> Image.Image:
    """One signature image; deterministic for (writer, sample, forged).

    ``paper`` and ``ink`` are grey levels (or RGB tuples), ``pen`` the stroke width in pixels
    (default 3, a forger's 4)."""
    rng = np.random.default_rng(hash((writer, sample, forged)) & 0xFFFFFFFF)
    path = _writer_path(writer)
    jitter = 0.05 if forged else 0.012
    path = path + rng.normal(0, jitter, path.shape)
    if forged:
        path[:, 1] = 1.0 - path[:, 1] * 0.9  # a forger's different slant
    width, height = size
    fill_paper = paper if mode == "L" else (paper if isinstance(paper, tuple) else (paper,) * 3)
    fill_ink = ink if mode == "L" else (ink if isinstance(ink, tuple) else (ink,) * 3)
    image = Image.new(mode, size, fill_paper)
    draw = ImageDraw.Draw(image)
    # A smooth stroke through the control points (Catmull-Rom-like subdivision).
    pts = []
    for a, b in zip(path[:-1], path[1:], strict=True):
        for t in np.linspace(0, 1, 8, endpoint=False):
            pts.append(((a[0] + (b[0] - a[0]) * t) * width, (a[1] + (b[1] - a[1]) * t) * height))
    pts.append((path[-1, 0] * width, path[-1, 1] * height))
    draw.line(pts, fill=fill_ink, width=pen or (4 if forged else 3), joint="curve")
    loop_x = path[len(path) // 3, 0] * width
    draw.ellipse([loop_x - 12, height * 0.3, loop_x + 12, height * 0.7], outline=fill_ink, width=3)
    return image
