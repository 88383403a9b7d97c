"""Operating points per number of references R, and the classifier per signer fused with the score."""

import json

import numpy as np
import pytest

from sigverify import evaluate as ev
from sigverify.card import CardError, ModelCard
from sigverify.errors import ModelLoadError
from sigverify.policy import Policy, StoredScores, preview, thresholds_at, thresholds_for
from sigverify.scoring import REFERENCE_BUCKETS, ScoreModel, reference_bucket
from sigverify.writer_dependent import (
    SignerClassifier,
    fit_signer_classifier,
    fused_score,
    load_background,
    write_background,
)

DIM = 24


def embed_population(seed: int, writers: int = 40, genuine: int = 14, forged: int = 12, spread: float = 0.5):
    """A small embedding model the tests make: each writer a random direction; a genuine signature
    is that direction plus noise, a skilled forgery the direction moved towards another plus noise.
    Returns (unit embeddings, writer groups) as ``evaluate.group_by_writer`` makes them."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(writers, DIM))
    rows, writer_ids, labels, numbers = [], [], [], []
    for w in range(writers):
        imitation = centres[w] + 0.9 * (centres[(w + 1) % writers] - centres[w]) * rng.uniform(0.2, 0.5)
        for label, count, centre in (("genuine", genuine, centres[w]), ("forged", forged, imitation)):
            for n in range(count):
                rows.append(centre + spread * rng.normal(size=DIM))
                writer_ids.append(f"w{w}")
                labels.append(label)
                numbers.append(n)
    x = np.asarray(rows)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, ev.group_by_writer(writer_ids, labels, numbers)


def scores_per_r(scorer: ScoreModel, references=(1, 2, 3, 5), background=None) -> StoredScores:
    """Validation and test writers of two 'datasets' each, stored per R as ``sigverify publish`` does."""
    stored = StoredScores(references=5)
    for split, seed in (("val", 1), ("test", 2)):
        for offset, name in enumerate(("latin", "bengali")):
            embeddings, groups = embed_population(10 * seed + offset)
            for r in references:
                stored.add(split, name, ev.protocol_scores(embeddings, groups, r, scorer, background), scorer)
    return stored


@pytest.fixture(scope="module")
def priors() -> ScoreModel:
    embeddings, groups = embed_population(0)
    return ev.fit_scorer(embeddings, groups)


def test_reference_bucket_is_the_largest_fitted_r_at_or_below():
    assert [reference_bucket(r) for r in (0, 1, 2, 5, 7, 9, 11, 12, 40)] == [1, 1, 2, 5, 6, 8, 10, 12, 12]
    assert reference_bucket(4, (1, 5)) == 1 and reference_bucket(5, (5, 1)) == 5


def test_thresholds_for_one_reference_are_stricter_than_for_five(priors):
    """On one score scale (the single calibration of an older card), R=1 needs a higher accept and a
    lower reject than R=5 to keep the same targets: one reference tells a signer's variation less well."""
    scores = scores_per_r(priors)
    t = thresholds_for(scores, Policy())
    one, five = thresholds_at(t, 1), thresholds_at(t, 5)
    assert one["references"] == 1 and five["references"] == 5
    assert one["accept"] > five["accept"] and one["reject"] < five["reject"]
    # The R=5 pair applied to one reference breaks the forgery target that R=1's own pair keeps.
    skilled_r1 = [by["skilled"] for by in scores.at(1).scores["val"].values()]
    assert max(np.mean(s >= five["accept"]) for s in skilled_r1) > 0.01
    assert max(np.mean(s >= one["accept"]) for s in skilled_r1) <= 0.01
    # The top-level pair is the primary R's, as older readers expect.
    assert (t["accept"], t["reject"]) == (five["accept"], five["reject"])


def test_per_r_calibration_refits_each_r_and_keeps_the_single_map_for_older_cards(priors):
    embeddings, groups = embed_population(3)
    fitted = ev.fit_scorer_by_references(embeddings, groups, priors, references=(1, 3, 5))
    assert fitted.buckets == (1, 3, 5) and fitted.prior_mean == priors.prior_mean
    z = np.linspace(-3, 3, 7)
    # R=1 and R=5 get maps of their own; R=4 uses R=3's; higher scores for closer queries at every R.
    assert not np.allclose(fitted.calibrate(z, 1), fitted.calibrate(z, 5))
    assert np.array_equal(fitted.calibrate(z, 4), fitted.calibrate(z, 3))
    assert all(np.all(np.diff(fitted.calibrate(z, r)) < 0) for r in (1, 3, 5))
    again = ScoreModel.from_dict(json.loads(json.dumps(fitted.to_dict())))
    assert again == fitted
    # An older score model (no maps per R) uses its single map for every R, explicitly.
    old = ScoreModel.from_dict({k: v for k, v in priors.to_dict().items() if k != "by_references"})
    assert np.array_equal(old.calibrate(z, 1), old.calibrate(z, 12)) and old.buckets == ()


def test_older_thresholds_hold_for_every_r_and_new_ones_pick_their_r():
    old = {"eer": 0.5, "accept": 0.9, "reject": 0.1}
    assert thresholds_at(old, 1) == thresholds_at(old, 12) == {"accept": 0.9, "reject": 0.1, "references": None}
    new = {**old, "by_references": {"1": {"accept": 0.97, "reject": 0.02}, "5": {"accept": 0.9, "reject": 0.1}}}
    assert thresholds_at(new, 3) == {"accept": 0.97, "reject": 0.02, "references": 1}
    assert thresholds_at(new, 8)["references"] == 5
    served = {"name": "m", "input_size": [32, 48], "embedding_dim": 16, "preprocess_version": "3", "sha256": "ab" * 32}
    card = ModelCard.parse({**served, "thresholds": new})
    assert card.thresholds_at(2).accept == 0.97 and card.thresholds_at(10).reject == 0.1
    assert ModelCard.parse({**served, "thresholds": old}).thresholds_at(1).accept == 0.9
    with pytest.raises(CardError, match="reference count"):
        ModelCard.parse({**served, "thresholds": {**old, "by_references": {"R1": {"accept": 1, "reject": 0}}}})


def test_preview_shows_the_outcome_at_every_r(priors):
    scores = StoredScores.from_dict(json.loads(json.dumps(scores_per_r(priors).to_dict())))
    assert scores.buckets == [1, 2, 3, 5]
    p = preview(scores, Policy())
    assert sorted(p["by_references"], key=int) == ["1", "2", "3", "5"]
    one = p["by_references"]["1"]
    assert (one["accept"], one["reject"]) == tuple(thresholds_at(p["thresholds"], 1)[k] for k in ("accept", "reject"))
    assert set(one["test_by_dataset"]) == {"latin", "bengali"}
    assert one["test"]["queries"]["genuine"] > p["by_references"]["5"]["test"]["queries"]["genuine"]
    # A single-R (format 1) file previews as before, with nothing per R.
    single = StoredScores(references=5, scores=scores.scores)
    assert single.to_dict()["format"] == 1 and preview(single, Policy())["by_references"] == {}


def test_signer_classifier_separates_the_signer_and_round_trips_through_json():
    embeddings, groups = embed_population(4)
    background = embeddings[[g["genuine"][0] for w, g in groups.items() if w not in ("w0",)]]
    g = groups["w0"]
    clf = fit_signer_classifier(embeddings[g["genuine"][:3]], background, model_sha256="ab" * 32)
    assert clf.references == 3 and clf.negatives == len(background) and clf.augmented == 0
    own = clf.decision(embeddings[g["genuine"][3:]])
    others = clf.decision(embeddings[[g2["genuine"][5] for w, g2 in groups.items() if w != "w0"]])
    assert np.median(own) > 0 > np.median(others) and own.mean() > clf.decision(embeddings[g["forged"]]).mean()
    stored = json.loads(json.dumps(clf.to_dict()))
    assert all(isinstance(v, float) for v in stored["weights"]) and stored["model_sha256"] == "ab" * 32
    again = SignerClassifier.from_dict(stored)
    assert np.allclose(again.decision(embeddings[:5]), clf.decision(embeddings[:5]))
    # Synthetic duplicates count as positives of their own kind.
    dup = fit_signer_classifier(embeddings[g["genuine"][:1]], background, extra_positives=embeddings[g["genuine"][1:3]])
    assert (dup.references, dup.augmented) == (1, 2)
    for bad in ({}, {"weights": [], "bias": 0}, {"weights": [1.0, float("nan")], "bias": 0}, {"weights": "x"}):
        with pytest.raises(ValueError):
            SignerClassifier.from_dict(bad)
    with pytest.raises(ValueError):
        fit_signer_classifier(np.zeros((0, DIM)), background)


def test_fused_score_takes_the_margin_where_the_calibration_is_fused(priors):
    embeddings, groups = embed_population(5)
    background = embeddings[[g["genuine"][0] for g in groups.values()]]
    fitted = ev.fit_scorer_by_references(embeddings, groups, priors, references=(1, 3), background=background)
    assert fitted.fused and "fused" in fitted.by_references["3"]
    g = groups["w7"]
    refs = embeddings[g["genuine"][:3]]
    clf = fit_signer_classifier(refs, background)
    query = embeddings[g["genuine"][5]]
    plain = fused_score(query, refs, fitted, None)
    fused = fused_score(query, refs, fitted, clf)
    assert plain.references == fused.references == 3 and fused.bucket == 3
    assert (
        plain.margin is None
        and not plain.fused
        and fused.fused
        and fused.margin == pytest.approx(float(clf.decision(query)[0]))
    )
    assert plain.score == pytest.approx(float(fitted.calibrate(plain.z, 3)))
    assert fused.score == pytest.approx(float(fitted.calibrate(fused.z, 3, [fused.margin])[0]))
    assert fused.score != pytest.approx(plain.score)
    # The fused calibration leans on the classifier's margin (positive weight: more like the signer, higher).
    assert fitted.calibration(3, fused=True).wd_coef > 0
    # A score model without a fused map reports the margin but leaves it out of the score.
    unfused = ev.fit_scorer_by_references(embeddings, groups, priors, references=(3,))
    result = fused_score(query, refs, unfused, clf)
    assert result.margin is not None and not result.fused
    assert result.score == pytest.approx(fused_score(query, refs, unfused, None).score)


def test_background_file_is_checked_against_the_card(tmp_path):
    embeddings, _ = embed_population(6, writers=5)
    entry = write_background(tmp_path, embeddings[:10], writers=[f"w{i}" for i in range(5)])
    assert entry["embeddings"] == 10 and entry["writers"] == 5
    loaded = load_background(tmp_path, {"background": entry})
    assert loaded.dtype == np.float32 and np.allclose(loaded, embeddings[:10], atol=1e-6)
    served = {"input_size": [32, 48], "embedding_dim": 16, "preprocess_version": "3", "sha256": "ab" * 32}
    thresholds = {"eer": 0.5, "accept": 0.6, "reject": 0.4}
    card = ModelCard.parse({"name": "m", **served, "thresholds": thresholds, "background": entry})
    assert load_background(tmp_path, card).shape == (10, DIM)
    assert load_background(tmp_path, {}) is None
    with pytest.raises(ModelLoadError, match="sha256"):
        load_background(tmp_path, {"background": {**entry, "sha256": "0" * 64}})


def test_every_bucket_is_fitted_by_default():
    assert REFERENCE_BUCKETS[0] == 1 and REFERENCE_BUCKETS[-1] >= 12
