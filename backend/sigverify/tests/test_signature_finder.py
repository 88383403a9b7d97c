"""The learned signature finder on generated cheques of layouts it was not trained on."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sigverify import signature_finder as finder
from sigverify.chequegen import HELD_OUT_FAMILIES, DatasetInk, SyntheticInk, generate_cheque, iou
from sigverify.pairs import read_splits

SPLITS = Path(__file__).resolve().parents[3] / "image_pairs" / "splits.csv"  # from any working directory

TEST_INK = SyntheticInk("test")  # writers the finder never saw


def assert_every_signature_found(cheque, found):
    for truth in cheque.boxes:
        best = max((iou(f.box, truth) for f in found), default=0.0)
        assert best >= 0.5, (cheque.family, cheque.capture, cheque.seed, truth, found)


def test_the_shipped_finder_is_trained_on_other_layouts_than_these():
    card = finder.card()
    assert set(card["held_out"]["families"]) == set(HELD_OUT_FAMILIES)
    assert set(card["training"]["families"]).isdisjoint(HELD_OUT_FAMILIES)
    assert card["features"] == list(finder.FEATURES)


@pytest.mark.parametrize("seed", range(3))
def test_two_signatures_on_a_dithered_held_out_cheque(seed):
    cheque = generate_cheque(seed, TEST_INK, family="uk_company", signers=2, capture="dithered")
    assert len(cheque.boxes) == 2
    found = finder.find_signatures(cheque.image)
    assert_every_signature_found(cheque, found)


def test_a_signature_crossing_the_printed_line():
    crossing = [
        cheque
        for seed in range(40)
        if (cheque := generate_cheque(seed, TEST_INK, family="uk_company", signers=1, capture="group4")).crossing[0]
    ][:3]
    assert len(crossing) == 3
    for cheque in crossing:
        assert_every_signature_found(cheque, finder.find_signatures(cheque.image))


@pytest.mark.parametrize("capture", ["grey", "bilevel", "colour"])
def test_a_cheque_without_a_signature_line(capture):
    cheque = generate_cheque(5, TEST_INK, family="eu_cmc7", capture=capture)
    found = finder.find_signatures(cheque.image)
    assert_every_signature_found(cheque, found)
    assert all(0 < f.confidence <= 1 for f in found)
    assert [f.confidence for f in found] == sorted((f.confidence for f in found), reverse=True)


def test_held_out_cheques_signed_by_test_writers_of_the_datasets(shared_datasets):
    ink = DatasetInk(shared_datasets, read_splits(SPLITS), "test", datasets=("cedar", "hindi"))
    for seed, capture in enumerate(("grey", "dithered", "group4")):
        cheque = generate_cheque(seed, ink, families=HELD_OUT_FAMILIES, capture=capture)
        assert_every_signature_found(cheque, finder.find_signatures(cheque.image))


@pytest.mark.parametrize(
    "image", [Image.new("L", (1200, 550), 255), Image.new("1", (1200, 550), 1), Image.new("RGB", (8, 8), "white")]
)
def test_no_ink_no_signature(image):
    assert finder.find_signatures(image) == []


def test_boxes_lie_inside_any_image():
    rng = np.random.default_rng(0)
    for _ in range(4):
        image = Image.fromarray(
            rng.integers(0, 256, (int(rng.integers(20, 400)), int(rng.integers(20, 900))), np.uint8)
        )
        for f in finder.find_signatures(image):
            x, y, w, h = f.box
            assert 0 <= x and 0 <= y and w >= 1 and h >= 1 and x + w <= image.width and y + h <= image.height


def test_exported_trees_score_as_scikit_learn_does():
    from sklearn.ensemble import GradientBoostingClassifier

    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 5)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] ** 2 + rng.normal(0, 0.3, 400) > 0.4).astype(int)
    model = GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0).fit(x, y)
    trees = finder.Trees.from_sklearn(model)
    assert np.allclose(trees.probability(x), model.predict_proba(x)[:, 1], atol=1e-9)


def test_trees_survive_the_file_without_pickle(tmp_path):
    trees = finder.shipped_trees()
    trees.save(tmp_path / "t.npz")
    again = finder.Trees.load(tmp_path / "t.npz")
    x = np.random.default_rng(2).normal(size=(50, len(finder.FEATURES))).astype(np.float32)
    assert np.array_equal(trees.probability(x), again.probability(x))


def _components(blobs, groups, rules=()):
    """Components at working size (360 rows): one per (x0, y0, x1, y1) blob, all certain signature ink."""
    boxes = np.array(blobs, np.float64)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) * 0.3
    comps = finder.Components(
        labels=np.zeros((finder.WORK_HEIGHT, 1000), np.int32),
        boxes=boxes,
        areas=areas,
        features=np.zeros((len(blobs), len(finder.FEATURES)), np.float32),
        groups=np.array(groups),
        scale=1.0,
        size=(1000, finder.WORK_HEIGHT),
        rules=np.array(rules, np.float64).reshape(-1, 3),
    )
    return finder.group_signatures(comps, np.ones(len(blobs)))


def test_the_words_of_one_signature_make_one_box_and_far_words_do_not():
    gap = finder.WORD_GAP * finder.WORK_HEIGHT
    near = _components([(100, 200, 200, 240), (200 + 0.8 * gap, 205, 300 + 0.8 * gap, 240)], [0, 1])
    far = _components([(100, 200, 200, 240), (200 + 1.5 * gap, 205, 300 + 1.5 * gap, 240)], [0, 1])
    assert len(near) == 1 and len(far) == 2


def test_signatures_on_two_printed_lines_stay_apart_though_a_stamp_joins_their_ink():
    # One ink group (a stamp touches both), each signature over its own line.
    rules = [(245, 80, 330), (245, 345, 600)]
    found = _components([(100, 200, 320, 240), (350, 200, 560, 240)], [0, 0], rules)
    assert sorted(f.box[0] for f in found) == [100, 350]
    # Without the lines the same ink is one signature.
    assert len(_components([(100, 200, 320, 240), (350, 200, 560, 240)], [0, 0])) == 1


def test_a_signature_hanging_below_its_line_is_one_box():
    # Its upper half stands on the signature line, the lower half on nothing but the border below.
    rules = [(290, 50, 900), (350, 10, 990)]
    found = _components([(558, 271, 724, 290), (547, 292, 730, 310)], [0, 0], rules)
    assert [f.box for f in found] == [(547, 271, 183, 39)]


# ---------------------------------------------------------------- the second stage


def test_exported_regression_trees_predict_as_scikit_learn_does():
    from sklearn.ensemble import GradientBoostingRegressor

    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    y = np.clip(0.5 + 0.3 * x[:, 0] - 0.2 * x[:, 2] ** 2, 0, 1)
    model = GradientBoostingRegressor(n_estimators=15, max_depth=3, random_state=0).fit(x, y)
    assert np.allclose(finder.Trees.from_sklearn(model).raw(x), model.predict(x), atol=1e-9)


def test_the_shipped_box_trees_and_their_card():
    card = finder.box_card()
    assert card["features"] == list(finder.BOX_FEATURES)
    assert set(card["training"]["families"]).isdisjoint(HELD_OUT_FAMILIES)
    trees = finder.shipped_box_trees()
    x = np.zeros((3, len(finder.BOX_FEATURES)), np.float32)
    assert trees.raw(x).shape == (3,)


def test_a_signature_cut_by_its_printed_line_is_also_a_candidate_as_one_box():
    # The part above the signature line stands on it, the part below on the border under it:
    # the grouping rules keep them apart ...
    rules = [(250.0, 50.0, 900.0), (330.0, 10.0, 990.0)]
    boxes = np.array([(500, 200, 700, 248), (510, 262, 690, 300), (100, 100, 200, 130)], np.float64)
    comps = finder.Components(
        labels=np.zeros((finder.WORK_HEIGHT, 1000), np.int32),
        boxes=boxes,
        areas=(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) * 0.3,
        features=np.zeros((3, len(finder.FEATURES)), np.float32),
        groups=np.array([0, 1, 2]),
        scale=1.0,
        size=(1000, finder.WORK_HEIGHT),
        rules=np.array(rules),
    )
    candidates, params = finder.candidate_boxes(comps, np.array([0.9, 0.9, 0.9]))
    as_lists = candidates.tolist()
    # ... and the two joined are a candidate too (the far one is never joined to them).
    assert [500, 200, 700, 248] in as_lists and [510, 262, 690, 300] in as_lists
    assert [500, 200, 700, 300] in as_lists
    assert not any(box[0] == 100 and box[2] > 200 for box in as_lists)
    assert params[as_lists.index([500, 200, 700, 300]), 2] in (1, 2)  # joined, or grouped across the lines


@pytest.mark.parametrize("capture", ["grey", "bilevel", "dithered"])
def test_the_second_stage_finds_the_signatures_on_held_out_cheques(capture):
    """Kept boxes: each written signature matched, none overlapping another, every confidence a
    predicted IoU at or above the floor; the rules alone answer too."""
    for seed in (11, 12):
        cheque = generate_cheque(seed, TEST_INK, families=HELD_OUT_FAMILIES, capture=capture)
        found = finder.find_signatures(cheque.image)
        assert_every_signature_found(cheque, found)
        assert all(finder.MIN_CONFIDENCE <= f.confidence <= 1 for f in found)
        for i, a in enumerate(found):
            for b in found[i + 1 :]:
                assert iou(a.box, b.box) < 0.3
        assert len(finder.find_signatures(cheque.image, box_trees=None)) >= 1


def test_a_box_holding_two_likely_signatures_side_by_side_is_never_kept():
    h = 40.0
    a, b = (100, 200, 240, 200 + h), (240 + 1.2 * h, 202, 380 + 1.2 * h, 200 + h)
    union = (100, 200, 380 + 1.2 * h, 200 + h)
    boxes = np.array([union, a, b], np.float64)
    assert finder._splits_in_two(boxes, np.array([0.9, 0.6, 0.5])).tolist() == [True, False, False]
    # Not when one side is no likely signature, nor when the gap is a word gap.
    assert not finder._splits_in_two(boxes, np.array([0.9, 0.6, 0.2])).any()
    close = np.array([(100, 200, 400, 240), (100, 200, 240, 240), (240 + 0.3 * h, 200, 400, 240)], np.float64)
    assert not finder._splits_in_two(close, np.array([0.9, 0.6, 0.6])).any()
    # Nor a far bigger box that merely holds both (a signature with a flourish around them).
    big = np.array([(60, 100, 480, 300), a, b], np.float64)
    assert not finder._splits_in_two(big, np.array([0.9, 0.6, 0.6])).any()


@pytest.mark.parametrize("gap", [0.03, 0.05])
@pytest.mark.parametrize("writers", [(10, 20), (13, 23), (16, 26)])
def test_two_drawn_signatures_side_by_side_on_one_line_are_two_boxes(writers, gap):
    """Two signers of a joint account on one signature line, a clear gap apart (a share of the
    cheque's width): two boxes, one around each, never one around both."""
    from sigverify.synthetic_signatures import draw_signature
    from testsupport.synthetic_data import draw_cheque

    width, height = 1200, 550
    page = np.asarray(draw_cheque(3, size=(width, height), signature=Image.new("L", (8, 8), 255))[0]).copy()
    each = int(0.17 * width)
    truths = []
    for index, writer in enumerate(writers):
        drawn = np.asarray(draw_signature(writer, 30 + index, size=(each, int(0.2 * height))).convert("L"))
        x, y = int(0.5 * width) + index * (each + int(gap * width)), int(0.54 * height)
        page[y : y + drawn.shape[0], x : x + drawn.shape[1]] = np.minimum(
            page[y : y + drawn.shape[0], x : x + drawn.shape[1]], drawn
        )
        ys, xs = np.nonzero(drawn < 128)
        truths.append((x + xs.min(), y + ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()))
    found = finder.find_signatures(Image.fromarray(page))
    for truth in truths:
        assert max((iou(f.box, truth) for f in found), default=0) >= 0.5, (truth, found)


def test_a_dithered_bilevel_scan_is_told_from_a_thresholded_one():
    """Floyd-Steinberg's scattered dots (a grey ramp, as ``convert("1")`` dithers it) against the
    same page thresholded: only the dithered one is kept from the darkest 3 x 3 (its dots would
    blacken every grey), and the trees get the difference as the ``dithered`` feature."""
    ramp = np.tile(np.linspace(90, 250, 1200, dtype=np.float32), (600, 1)).astype(np.uint8)
    ramp[300:303, 100:1100] = 0  # a printed rule
    grey = Image.fromarray(ramp)
    dithered = grey.convert("1")
    thresholded = grey.point(lambda v: 255 if v >= 140 else 0).convert("1", dither=Image.Dither.NONE)
    assert finder._dithered(dithered)
    assert not finder._dithered(thresholded)
    assert not finder._dithered(Image.new("1", (50, 50), 1))  # no ink at all
    column = finder.FEATURES.index("dithered")
    assert finder.components(dithered).features[:, column].min() == 1
    assert finder.components(thresholded).features[:, column].max() == 0


def test_a_thin_stroke_of_a_thresholded_scan_survives_the_reduction():
    """A pen stroke one scan pixel wide on a thresholded bilevel scan three times the working
    size: averaged alone it would be a third as dark as ink and fall under the ink level; with
    the darkest 3 x 3 first it is one component of ink."""
    page = np.full((3 * finder.WORK_HEIGHT, 2400), 255, np.uint8)
    page[60:160, 100:400] = 0  # a solid block of print: the page's darkest ink
    page[450:550, 600] = 0  # a thin vertical stroke (shorter than a box edge)
    for x in range(600, 900):  # a thin diagonal stroke
        page[500 + (x - 600) // 10, x] = 0
    image = Image.fromarray(page).convert("1", dither=Image.Dither.NONE)
    assert not finder._dithered(image)
    comps = finder.components(image)
    strokes = comps.labels[140:190, 195:305] > 0  # where the strokes lie at working size
    assert strokes.sum() >= 100  # (10 pixels without the darkest 3 x 3)


def test_a_candidate_grows_over_the_likely_specks_beside_it():
    """A signature's body and the specks its thin strokes broke into: the groupings leave the
    specks out (smaller than ``MIN_MEMBER_INK``), a grown candidate takes them in, and not a speck
    across the page."""
    body = [(500, 200, 560, 240)]
    specks = [(565, 205, 567, 207), (570, 212, 572, 214), (575, 219, 577, 221), (900, 100, 902, 102)]
    boxes = np.array(body + specks, np.float64)
    comps = finder.Components(
        labels=np.zeros((finder.WORK_HEIGHT, 1000), np.int32),
        boxes=boxes,
        areas=np.array([900.0, 4, 4, 4, 4]),
        features=np.zeros((5, len(finder.FEATURES)), np.float32),
        groups=np.arange(5),
        scale=1.0,
        size=(1000, finder.WORK_HEIGHT),
    )
    candidates, params = finder.candidate_boxes(comps, np.array([0.9, 0.6, 0.6, 0.6, 0.6]))
    as_lists = candidates.tolist()
    assert [500, 200, 560, 240] in as_lists
    assert [500, 200, 577, 240] in as_lists
    assert params[as_lists.index([500, 200, 577, 240]), 2] == 4
    assert not any(box[2] > 600 for box in as_lists)
