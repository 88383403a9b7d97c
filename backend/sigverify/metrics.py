"""Verification metrics on scores where higher means "more likely genuine"."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve


def _labels(genuine, impostor):
    genuine = np.asarray(genuine, dtype=np.float64)
    impostor = np.asarray(impostor, dtype=np.float64)
    y = np.r_[np.ones(len(genuine)), np.zeros(len(impostor))]
    return y, np.r_[genuine, impostor]


def eer(genuine, impostor) -> tuple[float, float]:
    """Equal error rate (fraction) and the score threshold where FAR == FRR."""
    y, s = _labels(genuine, impostor)
    if len(np.unique(y)) < 2:
        return float("nan"), float("nan")
    fpr, tpr, thr = roc_curve(y, s)
    fnr = 1.0 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    # Interpolate between the two ROC points that bracket the crossing.
    j = i + 1 if i + 1 < len(fpr) and (fnr[i] - fpr[i]) > 0 else max(i - 1, 0)
    a, b = sorted((i, j))
    d1, d2 = fnr[a] - fpr[a], fnr[b] - fpr[b]
    if d1 != d2 and np.sign(d1) != np.sign(d2):
        t = d1 / (d1 - d2)
        rate = fpr[a] + t * (fpr[b] - fpr[a])
    else:
        rate = (fpr[i] + fnr[i]) / 2.0
    threshold = thr[i] if np.isfinite(thr[i]) else thr[min(i + 1, len(thr) - 1)]
    return float(rate), float(threshold)


def auc(genuine, impostor) -> float:
    y, s = _labels(genuine, impostor)
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, s))


def rates_at(threshold: float, genuine, impostor) -> tuple[float, float]:
    """(FRR, FAR) when scores >= threshold are accepted."""
    genuine = np.asarray(genuine)
    impostor = np.asarray(impostor)
    frr = float(np.mean(genuine < threshold)) if len(genuine) else float("nan")
    far = float(np.mean(impostor >= threshold)) if len(impostor) else float("nan")
    return frr, far


def threshold_at_far(impostor, far: float) -> float:
    """Lowest threshold whose false-accept rate on ``impostor`` is at most ``far``."""
    impostor = np.sort(np.asarray(impostor, dtype=np.float64))
    k = int(np.floor(far * len(impostor)))  # how many impostors may pass
    if k >= len(impostor):
        return float(impostor[0])
    return float(np.nextafter(impostor[len(impostor) - 1 - k], np.inf))


def threshold_at_frr(genuine, frr: float) -> float:
    """Highest threshold whose false-reject rate on ``genuine`` is at most ``frr``."""
    genuine = np.sort(np.asarray(genuine, dtype=np.float64))
    k = int(np.floor(frr * len(genuine)))  # how many genuine may be rejected
    return float(genuine[min(k, len(genuine) - 1)])


def per_writer_eer(genuine_by_writer: dict, impostor_by_writer: dict) -> float:
    """Mean of each writer's own EER (a user-specific threshold)."""
    values = [
        eer(genuine_by_writer[w], impostor_by_writer[w])[0]
        for w in genuine_by_writer
        if len(genuine_by_writer[w]) and len(impostor_by_writer.get(w, []))
    ]
    return float(np.nanmean(values)) if values else float("nan")
