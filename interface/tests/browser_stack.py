"""What the real-browser tests share: the API (gunicorn on a throwaway SQLite and media), the
Streamlit app, Debian's chromium driven by Playwright, a tiny model, and page helpers.

The model is a tiny untrained embedder whose score calibration is fitted on the tests' own
drawn writers (as the real pipeline fits it on validation writers), so the decisions are
deterministic: ``genuine_sample`` is called genuine and ``forged_sample`` a forgery.
Screenshots go to <repo>/test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import requests

from testsupport.ci import require
from testsupport.servers import Gunicorn, free_port, wait_for_http
from testsupport.synthetic_data import signature_bytes

REPO = Path(__file__).resolve().parents[2]
BACKEND = REPO / "backend"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WRITERS = ("01", "02", "03")
REFERENCES = 3
WAIT_MS = 90_000


def require_chromium() -> None:
    require(CHROMIUM.exists(), f"{CHROMIUM} is not installed (apt-get install chromium)")


def genuine_sample(writer: str, sample: int) -> bytes:
    return signature_bytes(int(writer), sample, size=(360, 150), paper=250, pen=4)


def forged_sample(writer: str) -> bytes:
    return signature_bytes(500 + int(writer), 7, size=(360, 150), paper=250, pen=4)  # someone else's hand


def make_model(model_dir: Path) -> None:
    """A tiny embedder, with its score calibration fitted on the drawn writers."""
    import numpy as np
    import torch

    from sigverify.inference import Verifier
    from sigverify.model import SignatureEmbedder
    from sigverify.preprocess import PREPROCESS_VERSION
    from sigverify.weights import save_model

    torch.manual_seed(0)
    model = SignatureEmbedder(embedding_dim=16)
    card = {
        "name": "e2e-tiny",
        "version": "t1",
        "input_size": [32, 48],
        "preprocess_version": PREPROCESS_VERSION,
        "thresholds": {"eer": 0.5, "accept": 0.6, "reject": 0.4},
        "scoring": {},
        "metrics": {"validation": {"R3": {"skilled": {"eer": 0.0, "auc": 1.0}}}},
    }
    save_model(model, model_dir, card)
    verifier = Verifier.from_dir(model_dir)
    genuine, forged = [], []
    for writer in WRITERS:
        refs = np.stack([verifier.embed(genuine_sample(writer, i))[0] for i in range(REFERENCES)])
        genuine.append(float((1 - refs @ verifier.embed(genuine_sample(writer, REFERENCES))[0]).mean()))
        forged.append(float((1 - refs @ verifier.embed(forged_sample(writer))[0]).mean()))
    assert max(genuine) < min(forged), (genuine, forged)  # the drawn writers are separable
    # Population statistics dominate (many prior pairs): z measures the distance against the midpoint.
    card["scoring"] = {
        "prior_mean": (max(genuine) + min(forged)) / 2,
        "prior_std": (min(forged) - max(genuine)) / 4,
        "prior_pairs": 10_000.0,
        "min_std": 1e-6,
    }
    save_model(model, model_dir, card)


def backend_env(tmp: Path, **extra: str) -> dict:
    """The servers' environment: this test's SQLite, media, broker folder and model."""
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
            **extra,
        }
    )
    return env


def set_up_backend(env: dict, statements: list[str]) -> None:
    """Migrate, register the model in ``env`` and run ``statements``, in one Django process
    (each start costs seconds on a busy machine)."""
    setup = "; ".join(
        [
            "from django.core.management import call_command",
            "from apps.accounts.services import user_create_with_roles",
            "call_command('migrate', interactive=False, verbosity=0)",
            "call_command('register_shipped_model', activate=True)",
            *statements,
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
    print(done.stdout)


@contextlib.contextmanager
def running_stack(env: dict, tmp: Path) -> Iterator[dict]:
    """gunicorn and Streamlit on free ports; yields their URLs. Both logs' tails are printed at the end."""
    logs = {"api": tmp / "api.log", "ui": tmp / "ui.log"}
    api = Gunicorn(env, logs["api"], workers=1, threads=4, timeout=120)
    ui = None
    try:
        api.start(timeout=120)
        api_url = f"{api.url}/api/v1"
        ui_port = free_port()
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
            env=dict(env, SIGVERIFY_API_URL=api_url, SIGVERIFY_API_TIMEOUT="60"),  # busy CI machines
            stdout=logs["ui"].open("w"),
            stderr=subprocess.STDOUT,
        )
        ui_url = f"http://127.0.0.1:{ui_port}"
        wait_for_http(f"{ui_url}/_stcore/health", ui, logs["ui"], timeout=120)
        yield {"api": api_url, "ui": ui_url, "tmp": tmp, "logs": logs}
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


def user(username: str, password: str, role: str) -> str:
    """The set-up statement that creates one user with one role (for ``started_stack``)."""
    return f"user_create_with_roles({username!r}, {password!r}, roles=[{role!r}])"


@contextlib.contextmanager
def started_stack(tmp: Path, statements: list[str], prepare=None, **env: str) -> Iterator[dict]:
    """A browser test module's whole stack in ``tmp``: the tiny model (then ``prepare(tmp)``, for a
    test's own files), the backend migrated and set up with ``statements``, gunicorn and Streamlit
    running. Yields their URLs, ``tmp`` and the servers' ``env`` (for a worker beside them)."""
    make_model(tmp / "model")
    if prepare is not None:
        prepare(tmp)
    server_env = backend_env(tmp, **env)
    set_up_backend(server_env, statements)
    with running_stack(server_env, tmp) as urls:
        yield {**urls, "env": server_env}


def write_cards(root: Path, writers=WRITERS) -> None:
    """The bank's signature cards in the plain ``folders`` layout: <writer>/genuine/<n>.png."""
    for writer in writers:
        folder = root / writer / "genuine"
        folder.mkdir(parents=True)
        for i in range(REFERENCES):
            (folder / f"{i + 1}.png").write_bytes(genuine_sample(writer, i))


@contextlib.contextmanager
def enrolled_stack(tmp: Path, admin: tuple[str, str], clerk: tuple[str, str], writers=WRITERS) -> Iterator[dict]:
    """``started_stack`` with an admin, a clerk and ``writers`` enrolled from their cards as ACC-<writer>."""
    statements = [
        f"call_command('ensure_admin', username={admin[0]!r})",
        user(*clerk, "clerk"),
        f"call_command('enroll_from_dataset', data={str(tmp / 'cards')!r}, layout='folders', "
        f"references={REFERENCES}, prefix='ACC-', no_progress=True)",
    ]
    with started_stack(
        tmp, statements, lambda tmp: write_cards(tmp / "cards", writers), DJANGO_ADMIN_PASSWORD=admin[1]
    ) as urls:
        yield urls


@contextlib.contextmanager
def chromium():
    """A headless chromium; Playwright's expectations wait as long as a busy CI machine needs."""
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


def api_token(api_url: str, username: str, password: str) -> str:
    answer = requests.post(f"{api_url}/auth/token/", json={"username": username, "password": password}, timeout=60)
    answer.raise_for_status()
    return answer.json()["token"]


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_function(
        "() => Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)", timeout=WAIT_MS
    )
    page.wait_for_timeout(500)  # let charts paint
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def drag(page, canvas, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A mouse drag on the canvas, between two points in canvas pixels."""
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + start[0], box["y"] + start[1])
    page.mouse.down()
    for step in range(1, 11):
        t = step / 10
        page.mouse.move(box["x"] + start[0] + t * (end[0] - start[0]), box["y"] + start[1] + t * (end[1] - start[1]))
    page.mouse.up()


def wait_idle(page) -> None:
    """Wait until Streamlit has finished the current script run."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=WAIT_MS)


def type_in(page, label: str, text: str) -> None:
    """Type ``text`` into the field labelled ``label`` and send it (Enter), then wait for the rerun."""
    field = page.get_by_label(label)
    field.fill(text)
    field.press("Enter")
    wait_idle(page)


def click_then_see(page, button: str, text: str, screenshot: str) -> None:
    """Click the button named ``button``, wait until ``text`` shows and the run ends, and take a screenshot."""
    from playwright.sync_api import expect

    page.get_by_role("button", name=button).click()
    expect(page.get_by_text(text).first).to_be_visible()
    wait_idle(page)
    shot(page, screenshot)


def log_in(page, ui_url: str, username: str, password: str) -> None:
    from playwright.sync_api import expect

    page.goto(ui_url)
    expect(page.get_by_label("Username")).to_be_visible(timeout=WAIT_MS)
    page.get_by_label("Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Log in").click()
