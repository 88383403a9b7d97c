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


def label_components(mask: np.ndarray, connectivity: int = 8) -> tuple[np.ndarray, int]:
    """(labels int32, count) of a mask's 4- or 8-connected components, as ``ndimage.label`` gives them.

    OpenCV's SAUF labelling (``CCL_WU``, sequential or in parallel stripes) numbers the
    components in the order of their first pixel in a raster scan, as SciPy does, so the labels
    are the same array (checked on every mask of the finder and the layout rule over 259 whole
    cheques, one thread and two), about three times faster. Not its default algorithm
    (Spaghetti, by 2 x 2 blocks): that numbers them in another order. Its statistics (boxes,
    areas) cost more than ``ndimage.find_objects`` on the labels. SciPy where OpenCV is missing."""
    if cv2 is None:  # pragma: no cover
        return ndimage.label(mask, structure=np.ones((3, 3), bool) if connectivity == 8 else None)
    values = np.ascontiguousarray(mask)
    values = values.view(np.uint8) if values.dtype == bool else (values != 0).view(np.uint8)
    count, labels = cv2.connectedComponentsWithAlgorithm(values, connectivity, cv2.CV_32S, cv2.CCL_WU)
    return labels, count - 1


def label_boxes(mask: np.ndarray, connectivity: int = 8) -> tuple[np.ndarray, int, np.ndarray]:
    """``label_components`` and each component's box (count, 4): x0, y0, x1, y1 (``ndimage.find_objects``)."""
    labels, count = label_components(mask, connectivity)
    return labels, count, component_boxes(labels)


def component_boxes(labels: np.ndarray) -> np.ndarray:
    """Each label's box (count, 4): x0, y0, x1, y1 (``ndimage.find_objects``)."""
    slices = ndimage.find_objects(labels)
    boxes = np.array([(s[1].start, s[0].start, s[1].stop, s[0].stop) for s in slices], np.int64)
    return boxes.reshape(-1, 4)
