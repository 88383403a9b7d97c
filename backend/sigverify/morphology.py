"""1-D running max and min over a uint8 mask (straight-run searches in ``cheque`` and ``cleaning``).

SciPy's window: centred, the larger half before the pixel for an even length. Past the edge:
ignored (for a max or min, SciPy's default "reflect" gives exactly that), or zero
(``outside_zero``, SciPy's mode="constant", cval=0). OpenCV's dilate/erode with a one-row or
one-column kernel give the same values many times faster; SciPy where OpenCV is missing.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

try:  # OpenCV's headless wheel (requirements.txt); SciPy is the fallback
    import cv2
except ImportError:  # pragma: no cover
    cv2 = None


def max1d(values: np.ndarray, length: int, axis: int) -> np.ndarray:
    values = np.ascontiguousarray(values)
    if cv2 is None or length < 1:
        return ndimage.maximum_filter1d(values, length, axis=axis)
    return cv2.dilate(values, _line(length, axis), borderType=cv2.BORDER_REPLICATE)


def min1d(values: np.ndarray, length: int, axis: int, outside_zero: bool = False) -> np.ndarray:
    values = np.ascontiguousarray(values)
    if cv2 is None or length < 1:
        if outside_zero:
            return ndimage.minimum_filter1d(values, length, axis=axis, mode="constant", cval=0)
        return ndimage.minimum_filter1d(values, length, axis=axis)
    if outside_zero:
        return cv2.erode(values, _line(length, axis), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return cv2.erode(values, _line(length, axis), borderType=cv2.BORDER_REPLICATE)


def _line(length: int, axis: int) -> np.ndarray:
    return np.ones((length, 1) if axis == 0 else (1, length), dtype=np.uint8)
