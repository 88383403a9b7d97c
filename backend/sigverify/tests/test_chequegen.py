"""The whole-cheque generator: deterministic, exact boxes, every family and capture."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sigverify.chequegen import (
    CAPTURES,
    FAMILIES,
    HELD_OUT_FAMILIES,
    SIGNATURE,
    TRAINING_FAMILIES,
    DatasetInk,
    SyntheticInk,
    generate_cheque,
    iou,
)
from sigverify.pairs import read_splits
from sigverify.preprocess import load_image

SPLITS = Path(__file__).resolve().parents[3] / "image_pairs" / "splits.csv"  # from any working directory

INK = SyntheticInk()


def test_same_seed_same_cheque_other_seed_other_cheque():
    a, b = generate_cheque(7, INK), generate_cheque(7, INK)
    assert a.boxes == b.boxes and a.family == b.family and a.capture == b.capture
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
    c = generate_cheque(8, INK)
    assert c.image.size != a.image.size or not np.array_equal(np.asarray(a.image), np.asarray(c.image))


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_puts_each_signature_inside_the_image_with_its_exact_box(family):
    for seed in range(2):
        cheque = generate_cheque(seed, INK, family=family, capture="grey")
        width, height = cheque.image.size
        assert cheque.family == family and 1 <= len(cheque.boxes) <= 2
        assert cheque.classes.shape == (height, width)
        for i, (x, y, w, h) in enumerate(cheque.boxes):
            assert w > 0.1 * cheque.dpi and h > 0.1 * cheque.dpi  # a real signature, not a speck
            assert 0 <= x and 0 <= y and x + w <= width and y + h <= height
            ys, xs = np.nonzero(cheque.classes == SIGNATURE + i)
            assert (xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()) == (x, y, w, h)
            ink = np.asarray(cheque.image)[ys, xs]
            assert np.median(ink) < 160  # the box holds dark strokes


def test_held_out_families_are_never_drawn_for_training():
    assert set(HELD_OUT_FAMILIES).isdisjoint(TRAINING_FAMILIES)
    drawn = {generate_cheque(seed, INK, capture="grey").family for seed in range(12)}
    assert drawn <= set(TRAINING_FAMILIES) and len(drawn) >= 3


def test_two_signers_and_a_crossing_signature():
    crossing = []
    for seed in range(8):
        cheque = generate_cheque(seed, INK, family="uk_company", signers=2, capture="grey")
        assert len(cheque.boxes) == 2 and iou(*cheque.boxes) == 0
        crossing += cheque.crossing
    assert any(crossing) and not all(crossing)


@pytest.mark.parametrize("capture", CAPTURES)
def test_capture_modes(capture):
    cheque = generate_cheque(3, INK, capture=capture, dpi=300, family="us_personal")
    image = cheque.image
    assert cheque.capture == capture and cheque.dpi == 300
    assert abs(image.width - 6.1 * 300) < 0.25 * 300  # a US personal cheque, 6 x 2.75 inches
    expected_mode = {"grey": "L", "colour": "RGB", "bilevel": "1", "dithered": "1", "group4": "1"}.get(capture)
    if expected_mode:
        assert image.mode == expected_mode
    decoded = load_image(cheque.data)
    assert decoded.size == image.size
    if capture != "jpeg":  # lossless files decode to the very pixels
        assert np.array_equal(np.asarray(decoded), np.asarray(image))
    if capture == "group4":
        assert decoded.info.get("compression") == "group4"


def test_dithered_paper_is_dotted_where_thresholded_paper_is_white():
    def paper_ink_share(capture):
        cheque = generate_cheque(11, INK, capture=capture, family="in_cts")
        ink = ~np.asarray(cheque.image, dtype=bool)
        return ink[cheque.classes == 0].mean()  # on paper and pattern, away from any print or ink

    assert paper_ink_share("dithered") > 3 * paper_ink_share("bilevel")


def test_resolution_scales_the_cheque():
    low = generate_cheque(5, INK, capture="grey", dpi=200, family="in_cts")
    high = generate_cheque(5, INK, capture="grey", dpi=300, family="in_cts")
    assert high.image.width == pytest.approx(1.5 * low.image.width, rel=0.01)


def test_signatures_can_be_given(tmp_path):
    ink = np.zeros((60, 200), np.uint8)
    ink[20:40, 10:190] = 255  # a bar as the only signature
    cheque = generate_cheque(2, INK, signatures=[ink], family="us_personal", capture="grey")
    ((x, y, w, h),) = cheque.boxes
    assert w / h == pytest.approx(200 / 20, rel=0.35)  # the bar, scaled (its faint rim may count)


def test_training_writers_only_from_the_real_datasets(shared_datasets):
    splits = read_splits(SPLITS)
    ink = DatasetInk(shared_datasets, splits, "train", datasets=("cedar", "bengali"))
    assert ink.writers and all(splits[w] == "train" for w in ink.writers)
    cheque = generate_cheque(4, ink, family="in_cts_company", signers=2, capture="group4")
    assert all(splits[w] == "train" for w in cheque.writers)
    assert cheque.boxes and all(w > 0 and h > 0 for _, _, w, h in cheque.boxes)
    Image.open(io.BytesIO(cheque.data)).verify()
