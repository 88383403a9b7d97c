"""The operating policy in a real browser: ML staff open the Models page, read the trade-off plot,
preview a stricter policy and apply it with a reason; the API then serves the new thresholds.

The model is the tiny embedder of ``browser_stack``, published with validation and test scores
that this test draws (no dataset needed). Screenshots go to <repo>/test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import requests
from browser_stack import (
    api_token,
    click_then_see,
    log_in,
    shot,
    started_stack,
    type_in,
    user,
    wait_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ML = ("mona", "ml-pass-e2e-1")


def add_scores(model_dir) -> None:
    """Calibrated scores for two datasets as `sigverify publish` stores them, and the card pointing at them."""
    from sigverify.policy import SCORES_FILE, Policy, StoredScores, thresholds_for

    rng = np.random.default_rng(3)

    def kinds(shift):
        return {"genuine": rng.beta(8 + shift, 2, 300), "skilled": rng.beta(3, 4, 300), "random": rng.beta(1, 8, 300)}

    card = json.loads((model_dir / "model_card.json").read_text())
    scores = StoredScores(5, {s: {"cedar": kinds(0), "gpds": kinds(2)} for s in ("val", "test")}, card["sha256"])
    sha = scores.write(model_dir)
    card["thresholds"].update(thresholds_for(StoredScores.read(model_dir / SCORES_FILE), Policy()))
    card["scores"] = {
        "file": SCORES_FILE,
        "sha256": sha,
        "references": 5,
        "splits": {"val": ["cedar", "gpds"], "test": ["cedar", "gpds"]},
    }
    (model_dir / "model_card.json").write_text(json.dumps(card))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    prepare = lambda tmp: add_scores(tmp / "model")  # noqa: E731
    with started_stack(tmp_path_factory.mktemp("e2e-models"), [user(*ML, "ml_staff")], prepare) as urls:
        yield urls


def test_ml_staff_preview_then_apply_a_policy(stack, browser):
    from playwright.sync_api import expect

    token = api_token(stack["api"], *ML)
    headers = {"Authorization": f"Token {token}"}
    version = requests.get(f"{stack['api']}/model-versions/", headers=headers, timeout=60).json()["results"][0]
    before = requests.get(f"{stack['api']}/model-versions/{version['id']}/policy/", headers=headers, timeout=60).json()
    assert before["validation_scores"]["available"] and before["far_skilled"] == 0.01

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    log_in(page, stack["ui"], *ML)
    wait_idle(page)
    menu = page.get_by_test_id("stSidebar").get_by_role("link", name="Models")
    if menu.count():  # with a single page (ML staff) Streamlit shows no menu: it is already open
        menu.click()
    expect(page.get_by_text("Operating policy").first).to_be_visible()
    expect(page.get_by_text("referred (test writers)").first).to_be_visible()
    wait_idle(page)
    shot(page, "models-policy")

    type_in(page, "Skilled forgeries accepted at most (%)", "0.50")
    click_then_see(page, "Preview", "At 0.5% forgeries accepted", "models-policy-preview")
    type_in(page, "Reason for the change (kept in the audit trail)", "e2e: stricter on forgeries")
    click_then_see(page, "Apply this policy", "Policy of", "models-policy-applied")

    after = requests.get(f"{stack['api']}/model-versions/{version['id']}/policy/", headers=headers, timeout=60).json()
    assert after["far_skilled"] == 0.005
    assert after["thresholds"]["accept"] > before["thresholds"]["accept"]
    assert after["changes"][0]["reason"] == "e2e: stricter on forgeries"
    assert after["changes"][0]["changed_by"] == ML[0]
