"""The operating policy in a real browser: ML staff open the Models page, read the trade-off plot,
preview a stricter policy and apply it with a reason; the API then serves the new thresholds.

The model is the tiny embedder of the end-to-end test, published with validation and test scores
that this test draws (no dataset needed). Screenshots go to <repo>/test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import requests
from test_interface_browser_e2e import (
    BACKEND,
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO,
    WAIT_MS,
    api_token,
    log_in,
    make_model,
    require_chromium,
    shot,
    wait_idle,
)

from testsupport.servers import Gunicorn, free_port, wait_for_http

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
    require_chromium()
    tmp = tmp_path_factory.mktemp("e2e-models")
    make_model(tmp / "model")
    add_scores(tmp / "model")
    ui_port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DJANGO_DEBUG": "false",
            "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
            "MEDIA_ROOT": str(tmp / "media"),
            "SIGVERIFY_MODEL_DIR": str(tmp / "model"),
            "SIGVERIFY_BROKER_DIR": str(tmp / "broker"),
            "SIGVERIFY_MODELS_ROOT": str(tmp / "models"),
            "SIGVERIFY_TORCH_THREADS": "1",
            "DJANGO_STATIC_ROOT": str(tmp / "static"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    setup = "; ".join(
        [
            "from django.core.management import call_command",
            "from apps.accounts.services import create_user_with_roles",
            "call_command('migrate', interactive=False, verbosity=0)",
            "call_command('register_shipped_model', activate=True)",
            f"create_user_with_roles({ML[0]!r}, {ML[1]!r}, roles=['ml_staff'])",
        ]
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", setup],
        cwd=BACKEND,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"backend set-up failed:\n{done.stdout}\n{done.stderr}"
    logs = {"api": tmp / "api.log", "ui": tmp / "ui.log"}
    api = Gunicorn(env, logs["api"], workers=1, threads=4, timeout=120)
    ui = None
    try:
        api.start(timeout=120)
        api_url = f"{api.url}/api/v1"
        ui = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(REPO / "interface" / "app.py"),
                "--server.port",
                str(ui_port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
            ],
            cwd=tmp,
            env=dict(env, SIGVERIFY_API_URL=api_url, SIGVERIFY_API_TIMEOUT="60"),
            stdout=logs["ui"].open("w"),
            stderr=subprocess.STDOUT,
        )
        ui_url = f"http://127.0.0.1:{ui_port}"
        wait_for_http(f"{ui_url}/_stcore/health", ui, logs["ui"], timeout=120)
        yield {"api": api_url, "ui": ui_url}
    finally:
        if ui is not None:
            ui.terminate()
        api.stop(timeout=20)
        if ui is not None:
            try:
                ui.wait(timeout=20)
            except subprocess.TimeoutExpired:
                ui.kill()
        for name, log in logs.items():
            if log.exists():
                print(f"--- {name} log (tail) ---\n{log.read_text()[-2000:]}")


def test_ml_staff_preview_then_apply_a_policy(stack):
    from playwright.sync_api import expect, sync_playwright

    token = api_token(stack["api"], *ML)
    headers = {"Authorization": f"Token {token}"}
    version = requests.get(f"{stack['api']}/model-versions/", headers=headers, timeout=60).json()["results"][0]
    before = requests.get(f"{stack['api']}/model-versions/{version['id']}/policy/", headers=headers, timeout=60).json()
    assert before["validation_scores"]["available"] and before["far_skilled"] == 0.01

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
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

        page.get_by_label("Skilled forgeries accepted at most (%)").fill("0.50")
        page.get_by_label("Skilled forgeries accepted at most (%)").press("Enter")
        wait_idle(page)
        page.get_by_role("button", name="Preview").click()
        expect(page.get_by_text("At 0.5% forgeries accepted").first).to_be_visible()
        wait_idle(page)
        shot(page, "models-policy-preview")

        page.get_by_label("Reason for the change (kept in the audit trail)").fill("e2e: stricter on forgeries")
        wait_idle(page)
        page.get_by_role("button", name="Apply this policy").click()
        expect(page.get_by_text("Policy of").first).to_be_visible()
        wait_idle(page)
        shot(page, "models-policy-applied")
        browser.close()

    after = requests.get(f"{stack['api']}/model-versions/{version['id']}/policy/", headers=headers, timeout=60).json()
    assert after["far_skilled"] == 0.005
    assert after["thresholds"]["accept"] > before["thresholds"]["accept"]
    assert after["changes"][0]["reason"] == "e2e: stricter on forgeries"
    assert after["changes"][0]["changed_by"] == ML[0]
