import json

import numpy as np
import pytest

from sigverify.card import ModelCard
from sigverify.policy import (
    SCORES_FILE,
    SWEEP_TARGETS,
    TARGET_MAX,
    TARGET_MIN,
    Policy,
    ScoresFileError,
    StoredScores,
    preview,
    scores_for_card,
    sweep,
    thresholds_at,
    thresholds_for,
)


def make_scores(seed=0, n=400) -> StoredScores:
    """Two datasets of overlapping calibrated scores: genuine high, skilled lower, random lowest."""
    rng = np.random.default_rng(seed)

    def kinds(shift):
        return {
            "genuine": rng.beta(8 + shift, 2, n),
            "skilled": rng.beta(3, 4 + shift, n),
            "random": rng.beta(1, 8, n),
        }

    return StoredScores(
        references=5,
        model_sha256="ab" * 32,
        scores={split: {"cedar": kinds(0), "gpds": kinds(1)} for split in ("val", "test")},
    )


def test_stricter_forgery_target_raises_accept_and_accepts_fewer_forgeries():
    scores = make_scores()
    loose, default, strict = (preview(scores, Policy(far_skilled=t)) for t in (0.05, 0.01, 0.001))
    accepts = [p["thresholds"]["accept"] for p in (loose, default, strict)]
    assert accepts[0] < accepts[1] < accepts[2]
    accepted = [p["test"]["forgeries_accepted"] for p in (loose, default, strict)]
    assert accepted[0] > accepted[1] > accepted[2]
    # On the validation writers the target holds exactly; test writers come close to it.
    val_skilled = scores.pooled("val", "skilled")
    for target, p in zip((0.05, 0.01, 0.001), (loose, default, strict), strict=True):
        assert np.mean(val_skilled >= p["thresholds"]["accept"]) <= target
        assert p["validation"]["forgeries_accepted"] <= target
    # A stricter forgery target sends more genuine signatures to a human, never fewer.
    assert (
        loose["test"]["referred_genuine"] <= default["test"]["referred_genuine"] <= strict["test"]["referred_genuine"]
    )


def test_stricter_genuine_target_lowers_reject_and_rejects_fewer_genuine():
    scores = make_scores()
    loose, strict = (preview(scores, Policy(frr=t)) for t in (0.05, 0.002))
    assert strict["thresholds"]["reject"] < loose["thresholds"]["reject"]
    assert strict["test"]["genuine_rejected"] < loose["test"]["genuine_rejected"]
    assert np.mean(scores.pooled("val", "genuine") < strict["thresholds"]["reject"]) <= 0.002
    # The forgery side is untouched by the genuine target.
    assert strict["thresholds"]["accept"] == loose["thresholds"]["accept"]


def test_thresholds_are_the_validation_quantiles_and_never_cross():
    scores = make_scores()
    t = thresholds_for(scores, Policy())
    accepted = {name: np.sum(by["skilled"] >= t["accept"]) for name, by in scores.scores["val"].items()}
    rejected = {name: np.sum(by["genuine"] < t["reject"]) for name, by in scores.scores["val"].items()}
    allowed = {name: int(0.01 * len(by["skilled"])) for name, by in scores.scores["val"].items()}
    # Every dataset keeps the promise, and the strictest one is exactly at it (no stricter than needed).
    assert all(accepted[n] <= allowed[n] for n in allowed) and any(accepted[n] == allowed[n] for n in allowed)
    assert all(rejected[n] <= int(0.01 * len(scores.scores["val"][n]["genuine"])) for n in rejected)
    assert t["reject"] <= t["accept"]
    assert t["accept_far_skilled"] == 0.01 and t["reject_frr"] == 0.01 and t["references"] == 5
    # Classes that do not overlap: reject would sit above accept, so it is capped (no refer band).
    apart = StoredScores(5, {"val": {"x": {"genuine": np.linspace(0.6, 1, 101), "skilled": np.linspace(0, 0.4, 101)}}})
    crossed = thresholds_for(apart, Policy(far_skilled=0.05, frr=0.05))
    assert crossed["reject"] == crossed["accept"]


def test_test_scores_never_choose_the_thresholds():
    scores = make_scores()
    before = thresholds_for(scores, Policy())
    scores.scores["test"]["cedar"]["skilled"] = np.ones(10)
    assert thresholds_for(scores, Policy()) == before


def test_preview_reports_per_dataset_and_pooled_shares():
    scores = make_scores()
    p = preview(scores, Policy(far_skilled=0.005))
    assert set(p["test_by_dataset"]) == {"cedar", "gpds"}
    test = p["test"]
    assert test["queries"] == {"genuine": 800, "skilled": 800, "random": 800}
    accept, reject = p["thresholds"]["accept"], p["thresholds"]["reject"]
    genuine, skilled = scores.pooled("test", "genuine"), scores.pooled("test", "skilled")
    both = np.r_[genuine, skilled]
    assert test["referred"] == pytest.approx(np.mean((both >= reject) & (both < accept)))
    assert test["genuine_rejected"] == pytest.approx(np.mean(genuine < reject))
    assert test["forgeries_accepted"] == pytest.approx(np.mean(skilled >= accept))
    # Every genuine query is accepted, referred or rejected.
    assert test["genuine_accepted"] + test["referred_genuine"] + test["genuine_rejected"] == pytest.approx(1.0)


def test_sweep_covers_the_allowed_range_and_trades_forgeries_for_referrals():
    rows = sweep(make_scores(), frr=0.01)
    assert [r["far_skilled"] for r in rows] == list(SWEEP_TARGETS)
    assert rows[0]["far_skilled"] == TARGET_MIN and rows[-1]["far_skilled"] == TARGET_MAX
    accepted = [r["forgeries_accepted"] for r in rows]
    referred = [r["referred"] for r in rows]
    assert accepted == sorted(accepted) and referred == sorted(referred, reverse=True)
    assert all(r["frr"] == 0.01 for r in rows)


@pytest.mark.parametrize(
    "policy, field",
    [
        (Policy(far_skilled=0.0005), "far_skilled"),
        (Policy(frr=0.06), "frr"),
        (Policy(frr=float("nan")), "frr"),
        (Policy(far_skilled="1%"), "far_skilled"),
    ],
)
def test_targets_outside_the_range_are_field_errors(policy, field):
    errors = policy.errors()
    assert list(errors) == [field]
    with pytest.raises(ValueError, match=field):
        thresholds_for(make_scores(), policy)


def card_with(**fields) -> ModelCard:
    required = {"input_size": [32, 48], "embedding_dim": 16, "preprocess_version": "3", "sha256": "ab" * 32}
    thresholds = {"eer": 0.5, "accept": 0.6, "reject": 0.4}
    return ModelCard.parse({"name": "m", **required, "thresholds": thresholds, **fields})


def test_scores_file_round_trip_and_sha256_check(tmp_path):
    scores = make_scores()
    sha = scores.write(tmp_path)
    assert not list(tmp_path.glob("*.part"))
    card = card_with(scores={"file": SCORES_FILE, "sha256": sha, "references": 5})
    loaded = scores_for_card(tmp_path, card)
    assert loaded.references == 5 and loaded.datasets("test") == ["cedar", "gpds"]
    np.testing.assert_allclose(loaded.pooled("val", "skilled"), scores.pooled("val", "skilled"), atol=1e-7)
    assert thresholds_for(loaded, Policy()) == pytest.approx(thresholds_for(scores, Policy()), abs=1e-6)

    assert scores_for_card(tmp_path, card_with()) is None  # a card from before scores were stored
    data = json.loads((tmp_path / SCORES_FILE).read_text())
    data["splits"]["val"]["cedar"]["skilled"][0] = 0.999
    (tmp_path / SCORES_FILE).write_text(json.dumps(data))
    with pytest.raises(ScoresFileError, match="sha256"):
        scores_for_card(tmp_path, card)
    (tmp_path / SCORES_FILE).unlink()
    with pytest.raises(ScoresFileError, match="cannot read"):
        scores_for_card(tmp_path, card)
    (tmp_path / SCORES_FILE).write_text("{not json")
    with pytest.raises(ScoresFileError, match="not valid JSON"):
        StoredScores.read(tmp_path / SCORES_FILE)
    (tmp_path / SCORES_FILE).write_text('{"format": 99}')
    with pytest.raises(ScoresFileError, match="format"):
        StoredScores.read(tmp_path / SCORES_FILE)


def test_the_promise_holds_on_each_dataset_not_only_on_their_pool():
    """One dataset whose forgeries score high (a capture condition the model handles worse) must not
    hide behind an easy one: the pooled 1% would let it pass several times its share."""
    rng = np.random.default_rng(3)
    easy = {"genuine": rng.beta(8, 2, 2000), "skilled": rng.beta(2, 8, 2000)}
    hard = {"genuine": rng.beta(8, 2, 200), "skilled": rng.beta(5, 4, 200)}
    scores = StoredScores(5, {"val": {"easy": easy, "hard": hard}})
    t = thresholds_for(scores, Policy())
    assert np.mean(hard["skilled"] >= t["accept"]) <= 0.01 and np.mean(easy["skilled"] >= t["accept"]) <= 0.01
    pooled_accept = np.quantile(np.r_[easy["skilled"], hard["skilled"]], 0.99)
    assert np.mean(hard["skilled"] >= pooled_accept) > 0.05  # what the pooled rule would have promised


def with_cheques(scores: StoredScores, seed=1, n=400) -> StoredScores:
    """Cheque scores of the same datasets: genuine signatures cut from cheques score lower (thinned
    strokes, print in the box), forgeries alike."""
    rng = np.random.default_rng(seed)

    def kinds():
        return {"genuine": rng.beta(5, 2, n), "skilled": rng.beta(3, 4, n), "random": np.zeros(0)}

    scores.cheque = {split: {"cedar": kinds(), "gpds": kinds()} for split in ("val", "test")}
    scores.cheque_protocol = {"references": 5}
    return scores


def test_a_cheque_pair_is_fitted_on_the_cheque_scores_and_never_looser():
    plain = make_scores()
    scores = with_cheques(make_scores())
    thresholds = thresholds_for(scores, Policy())
    assert "cheque" not in thresholds_for(plain, Policy())
    cheque = thresholds["cheque"]
    # Fitted on the validation writers' cheque scores by the every-dataset rule ...
    val_genuine = [scores.cheque["val"][name]["genuine"] for name in ("cedar", "gpds")]
    assert all(np.mean(v < cheque["reject"]) <= 0.01 for v in val_genuine)
    assert any(np.mean(v < cheque["reject"] + 0.02) > 0.01 for v in val_genuine)  # the highest such reject
    # ... and stricter than the clean pair where genuine cheque crops score lower.
    assert cheque["reject"] < thresholds["reject"] and cheque["accept"] >= thresholds["accept"]
    # A crop found on a cheque is decided with the stricter of the two; any other with its own pair.
    assert thresholds_at(thresholds, 5, cheque=True) == {**pair(cheque), "references": None, "cheque": True}
    assert thresholds_at(thresholds, 5) == {**pair(thresholds), "references": None}
    # Without a cheque pair the answer says so, and the pair is the R's own.
    assert thresholds_at(thresholds_for(plain, Policy()), 5, cheque=True)["cheque"] is False
    # The test writers' cheque outcome at that pair is previewed beside the clean one.
    shown = preview(scores, Policy())["cheque"]
    assert shown["reject"] == cheque["reject"] and set(shown["test_by_dataset"]) == {"cedar", "gpds"}
    assert shown["test"]["genuine_rejected"] < preview(scores, Policy())["test"]["genuine_rejected"] + 0.05


def test_a_cheque_pair_holds_each_r_own_pair_when_that_is_stricter():
    thresholds = {
        "accept": 0.9,
        "reject": 0.1,
        "by_references": {"1": {"accept": 0.97, "reject": 0.02}, "5": {"accept": 0.9, "reject": 0.1}},
        "cheque": {"accept": 0.92, "reject": 0.05},
    }
    assert pair(thresholds_at(thresholds, 1, cheque=True)) == {"accept": 0.97, "reject": 0.02}
    assert pair(thresholds_at(thresholds, 6, cheque=True)) == {"accept": 0.92, "reject": 0.05}


def test_cheque_scores_survive_the_scores_file(tmp_path):
    scores = with_cheques(make_scores())
    sha256 = scores.write(tmp_path)
    back = StoredScores.read(tmp_path / SCORES_FILE, sha256=sha256)
    assert back.cheque_protocol == {"references": 5}
    for split in ("val", "test"):
        for name in ("cedar", "gpds"):
            np.testing.assert_allclose(
                back.cheque[split][name]["genuine"], scores.cheque[split][name]["genuine"], atol=1e-6
            )
    assert thresholds_for(back, Policy())["cheque"] == pytest.approx(
        thresholds_for(scores, Policy())["cheque"], abs=1e-6
    )
    assert "cheque" not in make_scores().to_dict()  # older readers see the file they know


def pair(thresholds: dict) -> dict:
    return {"accept": thresholds["accept"], "reject": thresholds["reject"]}
