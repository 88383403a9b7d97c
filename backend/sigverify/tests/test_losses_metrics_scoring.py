import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sigverify import metrics
from sigverify.losses import contrastive_loss, metric_loss, pair_masks, triplet_loss
from sigverify.scoring import ScoreModel, decide, fit_calibration


def test_pair_masks_use_a_writers_forgeries_as_its_negatives():
    writers = torch.tensor([0, 0, 0, 1])
    forged = torch.tensor([False, False, True, False])
    pos, neg = pair_masks(writers, forged)
    assert pos[0, 1] and not pos[0, 0] and not pos[0, 2]
    assert neg[0, 2] and neg[0, 3] and not neg[0, 1]
    assert not pos[2].any() and not neg[2].any()  # forgeries are never anchors


def clustered(separated: bool):
    torch.manual_seed(0)
    centres = F.normalize(torch.randn(3, 16), dim=1)
    writers = torch.arange(3).repeat_interleave(4)
    noise = 0.05 if separated else 2.0
    emb = F.normalize(centres[writers] + noise * torch.randn(12, 16), dim=1)
    return emb, writers, torch.zeros(12, dtype=torch.bool)


@pytest.mark.parametrize("name", ["contrastive", "triplet-semihard", "triplet-hard"])
def test_losses_are_lower_for_separated_writers(name):
    good = metric_loss(name, *clustered(True))
    bad = metric_loss(name, *clustered(False))
    assert good < bad


def test_triplet_loss_has_gradients():
    emb, w, f = clustered(False)
    emb = emb.clone().requires_grad_(True)
    triplet_loss(emb, w, f, mining="semihard").backward()
    assert emb.grad.abs().sum() > 0
    assert contrastive_loss(emb.detach(), w, f) >= 0


def test_eer_and_auc():
    assert metrics.eer([0.9, 0.8, 0.7], [0.1, 0.2, 0.3])[0] == 0.0
    assert metrics.auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    rng = np.random.default_rng(0)
    g, i = rng.normal(1, 1, 5000), rng.normal(-1, 1, 5000)
    rate, thr = metrics.eer(g, i)
    assert abs(rate - 0.1587) < 0.01 and abs(thr) < 0.1  # Phi(-1) for unit-variance classes 2 apart
    frr, far = metrics.rates_at(thr, g, i)
    assert abs(frr - far) < 0.02


def test_operating_point_thresholds():
    impostor = np.linspace(0, 1, 101)
    t = metrics.threshold_at_far(impostor, 0.01)
    assert np.mean(impostor >= t) <= 0.01
    genuine = np.linspace(0, 1, 101)
    t = metrics.threshold_at_frr(genuine, 0.01)
    assert np.mean(genuine < t) <= 0.01
    assert metrics.per_writer_eer({"a": [0.9, 0.8]}, {"a": [0.1]}) == 0.0


def test_score_model_shrinks_to_priors_and_calibrates():
    sm = ScoreModel(prior_mean=0.3, prior_std=0.1, prior_pairs=3)
    one = F.normalize(torch.randn(1, 8), dim=1).numpy()
    assert sm.reference_stats(one) == (0.3, 0.1)
    close = np.repeat(one, 5, axis=0)
    mean, std = sm.reference_stats(close)
    assert mean < 0.3 and std < 0.1  # identical references pull the stats down
    near = sm.score(one[0], close)
    far = sm.score(-one[0], close)
    assert near.score > far.score and len(near.distances) == 5
    fitted = fit_calibration(
        np.random.default_rng(0).normal(-1, 1, 200), np.random.default_rng(1).normal(2, 1, 200), sm
    )
    assert fitted.coef > 0
    assert fitted.calibrate(-3) > 0.9 > 0.1 > fitted.calibrate(5)
    assert ScoreModel.from_dict(fitted.to_dict()) == fitted


def test_decide_three_ways():
    assert decide(0.9, accept=0.8, reject=0.3) == "genuine"
    assert decide(0.5, accept=0.8, reject=0.3) == "refer"
    assert decide(0.1, accept=0.8, reject=0.3) == "forgery"


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        {"coef": 2.0},
        {"by_references": {"1": {"coef": 1.0, "intercept": 0.0}, "5": {"coef": 2.0, "intercept": 1.0}}},
        {
            "by_references": {
                "1": {"coef": 1.0, "intercept": 0.0},
                "5": {"coef": 2.0, "intercept": 1.0, "fused": {"coef": 1.0, "intercept": 0.5, "wd_coef": 0.3}},
            }
        },
        {"by_references": {"3": {"coef": 1.0, "intercept": 0.0, "fused": None}}},
    ],
)
def test_fuses_reads_the_stored_dict_as_the_parsed_model_does(data):
    assert ScoreModel.fuses(data) == ScoreModel.from_dict(data).fused
