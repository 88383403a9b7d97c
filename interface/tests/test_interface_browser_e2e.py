"""End to end in a real browser: the Django API (gunicorn, throwaway SQLite and media), the
Streamlit app, and Debian's chromium driven by Playwright.

A clerk logs in, verifies one genuine and one forged signature, sees each decision, then
finds both in the history; on a whole-cheque group 4 TIFF, the clerk drags the signature box
(it starts on the service's proposal) and records a review that overrules the model.
Screenshots go to <repo>/test-artifacts/ (git-ignored).

The servers, the browser and the tiny model whose decisions are deterministic come from
``browser_stack``.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import requests
from browser_stack import (
    REFERENCES,
    WAIT_MS,
    api_token,
    drag,
    enrolled_stack,
    forged_sample,
    genuine_sample,
    log_in,
    shot,
    wait_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CLERK = ("clerk1", "clerk-pass-e2e-1")
ADMIN = ("admin", "admin-pass-e2e-1")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with enrolled_stack(tmp_path_factory.mktemp("e2e"), ADMIN, CLERK) as urls:
        yield urls


def verify(page, image: Path, cheque: str) -> str:
    from playwright.sync_api import expect

    page.locator("input[type=file]").set_input_files(str(image))
    expect(page.get_by_text(image.name).first).to_be_visible(timeout=WAIT_MS)
    cheque_box = page.get_by_label("Cheque reference (optional)")
    cheque_box.fill(cheque)
    cheque_box.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Verify signature").click()
    decision = page.locator(".sv-decision")
    expect(decision).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("Distance to each reference")).to_be_visible(timeout=WAIT_MS)
    wait_idle(page)
    return decision.inner_text().strip()


def test_clerk_verifies_a_genuine_and_a_forged_signature_then_finds_both_in_history(stack, browser):
    from playwright.sync_api import expect

    genuine = stack["tmp"] / "questioned-genuine.png"
    genuine.write_bytes(genuine_sample("02", REFERENCES))
    forged = stack["tmp"] / "questioned-forged.png"
    forged.write_bytes(forged_sample("02"))

    page = browser.new_page(viewport={"width": 1400, "height": 2600})  # tall: screenshots show whole pages
    page.set_default_timeout(WAIT_MS)
    try:
        page.goto(stack["ui"])
        expect(page.get_by_label("Username")).to_be_visible()
        shot(page, "01-login")
        log_in(page, stack["ui"], *CLERK)
        expect(page.get_by_role("heading", name="Verify a cheque signature")).to_be_visible()
        # The clerk's menu: Verify and History only.
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_role("link", name="History")).to_be_visible()
        assert sidebar.get_by_role("link", name="Models").count() == 0
        assert sidebar.get_by_role("link", name="Enroll signers").count() == 0

        search = page.get_by_label("Find the signer by account / external id or name")
        search.fill("ACC-02")
        search.press("Enter")
        expect(page.get_by_text("Reference signatures (3)")).to_be_visible()
        wait_idle(page)
        shot(page, "02-verify-signer-chosen")

        assert verify(page, genuine, "CHQ-1001") == "GENUINE"
        shot(page, "03-verify-genuine")

        page.get_by_role("button", name="Start a new verification").click()
        expect(page.locator(".sv-decision")).to_have_count(0)
        assert verify(page, forged, "CHQ-1002") == "FORGERY"
        shot(page, "04-verify-forgery")

        page.get_by_test_id("stSidebar").get_by_role("link", name="History").click()
        expect(page.get_by_role("heading", name="Verification history")).to_be_visible()
        expect(page.get_by_text("2 verification(s) match.")).to_be_visible()
        expect(page.get_by_role("button", name="Export 2 filtered row(s) as CSV")).to_be_visible()
        wait_idle(page)
        shot(page, "05-history")

        # Both rows, newest first, as listed by the detail picker.
        page.get_by_label("Open a verification").click()
        options = page.get_by_role("option")
        expect(options).to_have_count(3)
        texts = [t.strip() for t in options.all_inner_texts()]
        assert texts[0] == "Choose one…"
        assert "ACC-02" in texts[1] and texts[1].endswith("Forgery")
        assert "ACC-02" in texts[2] and texts[2].endswith("Genuine")
        options.nth(2).click()
        expect(page.locator(".sv-decision")).to_have_text("GENUINE")
        expect(page.get_by_role("button", name="Record review")).to_be_visible()
        wait_idle(page)
        shot(page, "06-history-detail")
    finally:
        page.close()

    # The audit log agrees with what the clerk saw.
    headers = {"Authorization": f"Token {api_token(stack['api'], *ADMIN)}"}
    records = requests.get(f"{stack['api']}/verifications/", headers=headers, timeout=60).json()
    assert [(r["cheque_reference"], r["decision"], r["requested_by"]) for r in records["results"]] == [
        ("CHQ-1002", "forgery", CLERK[0]),
        ("CHQ-1001", "genuine", CLERK[0]),
    ]


def cheque_with_signature(writer: str, sample: int) -> tuple[bytes, tuple[int, int, int, int]]:
    """A whole cheque (printed text, amount box, rules, code line) as archives keep it, a bilevel
    200 dpi group 4 TIFF, with the writer's signature in the lower right; and the signature's
    ink box (x0, y0, x1, y1)."""
    import numpy as np
    from PIL import Image

    from testsupport.synthetic_data import draw_cheque

    signature = Image.open(io.BytesIO(genuine_sample(writer, sample)))
    cheque, (x, y, _, _) = draw_cheque(size=(1400, 640), signature=signature)
    ink = np.asarray(signature) < 128
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    buffer = io.BytesIO()
    cheque.convert("1", dither=Image.Dither.NONE).save(buffer, format="TIFF", compression="group4", dpi=(200, 200))
    return buffer.getvalue(), (x + cols[0], y + rows[0], x + cols[-1] + 1, y + rows[-1] + 1)


def test_clerk_drags_the_signature_box_on_a_cheque_scan_then_reviews(stack, browser):
    from playwright.sync_api import expect

    data, (ix0, iy0, ix1, iy1) = cheque_with_signature("03", REFERENCES)
    scan = stack["tmp"] / "cheque-03.tif"
    scan.write_bytes(data)
    headers = {"Authorization": f"Token {api_token(stack['api'], *ADMIN)}"}
    proposal = requests.post(
        f"{stack['api']}/signature-region/", headers=headers, files={"image": data}, timeout=60
    ).json()["crop"]
    # The service's proposal holds the signature, and keeps off the code line.
    assert proposal["x"] <= ix0 and proposal["y"] <= iy0
    assert proposal["x"] + proposal["width"] >= ix1 and proposal["y"] + proposal["height"] >= iy1

    page = browser.new_page(viewport={"width": 1600, "height": 2600})
    page.set_default_timeout(WAIT_MS)
    try:
        log_in(page, stack["ui"], *CLERK)
        search = page.get_by_label("Find the signer by account / external id or name")
        search.fill("ACC-03")
        search.press("Enter")
        expect(page.get_by_text("Reference signatures (3)")).to_be_visible()
        page.locator("input[type=file]").set_input_files(str(scan))
        expect(page.get_by_text("The box starts on the signature the service found.", exact=False)).to_be_visible()
        canvas = page.locator("canvas.upper-canvas")
        if canvas.count() == 0:  # Fabric's event layer; the last canvas otherwise
            canvas = page.locator("canvas").last
        expect(canvas).to_be_visible()
        expect(
            page.get_by_text(f"What will be checked ({proposal['width']} × {proposal['height']} px)")
        ).to_be_visible()
        wait_idle(page)
        shot(page, "09-verify-cheque-proposed-box")

        # The clerk drags a rectangle of their own, 6 scan pixels around the strokes.
        scale = canvas.bounding_box()["width"] / 1400
        assert abs(scale - 900 / 1400) < 0.01, scale  # the whole canvas is on screen, unscaled
        x0, y0, x1, y1 = ix0 - 6, iy0 - 6, ix1 + 6, iy1 + 6
        drag(page, canvas, (x0 * scale, y0 * scale), (x1 * scale, y1 * scale))
        checked = page.get_by_text(re.compile(r"^What will be checked \((\d+) × (\d+) px\)$"))
        expect(checked).not_to_have_text(f"What will be checked ({proposal['width']} × {proposal['height']} px)")
        wait_idle(page)
        shot(page, "10-verify-cheque-dragged-box")

        page.get_by_label("Cheque reference (optional)").fill("CHQ-3003")
        page.get_by_label("Cheque reference (optional)").press("Enter")
        wait_idle(page)
        page.get_by_role("button", name="Verify signature").click()
        expect(page.locator(".sv-decision")).to_have_text("GENUINE")
        expect(page.get_by_text("Distance to each reference")).to_be_visible()
        wait_idle(page)

        # The review: no call preselected; overruling needs a comment.
        confirm = page.get_by_role("radio", name="Confirm: Genuine")
        overrule = page.get_by_role("radio", name="Overrule: Forgery")
        expect(overrule).to_be_visible()
        assert not confirm.is_checked() and not overrule.is_checked()
        page.get_by_role("button", name="Record review").click()
        expect(page.get_by_text("Choose your call first.")).to_be_visible()
        overrule.check(force=True)
        page.get_by_role("button", name="Record review").click()
        expect(page.get_by_text("Please explain in the comment why you overrule the model.")).to_be_visible()
        overrule.check(force=True)
        page.get_by_label("Comment (required when you overrule the model)").fill("Customer says it is not theirs")
        page.get_by_role("button", name="Record review").click()
        expect(page.get_by_text("clerk1 overruled the model", exact=False)).to_be_visible()
        wait_idle(page)
        shot(page, "11-verify-cheque-reviewed")

        page.get_by_test_id("stSidebar").get_by_role("link", name="History").click()
        expect(page.get_by_role("heading", name="Verification history")).to_be_visible()
        page.get_by_text("Work queue: referred, not yet reviewed").click()
        expect(page.get_by_text("The work queue is empty", exact=False)).to_be_visible()
    finally:
        page.close()

    # The log holds the dragged box in the scan's pixels, and the review with its comment.
    rows = requests.get(
        f"{stack['api']}/verifications/", params={"cheque_reference": "CHQ-3003"}, headers=headers, timeout=60
    ).json()["results"]
    [row] = rows
    cx, cy, cw, ch = row["crop"]
    tolerance = 2 / scale + 4  # a CSS pixel of mouse position, and Fabric's stroke
    assert abs(cx - x0) <= tolerance and abs(cy - y0) <= tolerance, (row["crop"], (x0, y0, x1, y1))
    assert abs(cx + cw - x1) <= tolerance and abs(cy + ch - y1) <= tolerance, (row["crop"], (x0, y0, x1, y1))
    assert row["quality"]["width"] == cw and row["image_url"]
    assert row["review"]["final_decision"] == "forgery"
    assert row["review"]["comment"] == "Customer says it is not theirs"
    stored = requests.get(row["image_url"], headers=headers, timeout=60)
    assert stored.headers["Content-Type"] == "image/tiff" and stored.content == data


def test_admin_sees_every_page_and_logs_out(stack, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.set_default_timeout(WAIT_MS)
    try:
        log_in(page, stack["ui"], *ADMIN)
        sidebar = page.get_by_test_id("stSidebar")
        for name in ("Verify a cheque", "Enroll signers", "History", "Models"):
            expect(sidebar.get_by_role("link", name=name)).to_be_visible()

        sidebar.get_by_role("link", name="Enroll signers").click()
        expect(page.get_by_role("heading", name="Enroll signers")).to_be_visible()
        page.get_by_role("radio", name="Existing signer").check(force=True)
        query = page.get_by_label("Find the signer by external id or name")
        query.fill("ACC-01")
        query.press("Enter")
        expect(page.get_by_text("ACC-01 has 3 reference signatures.")).to_be_visible()
        expect(page.get_by_test_id("stImage")).to_have_count(3)
        wait_idle(page)
        shot(page, "07-enroll")

        sidebar.get_by_role("link", name="Models").click()
        expect(page.get_by_role("heading", name="Model versions")).to_be_visible()
        expect(page.get_by_text(re.compile(r"^e2e-tiny\S* \(#1\) · active$"))).to_be_visible()
        page.wait_for_timeout(1500)
        shot(page, "08-models")

        # One token per user: the API hands this test the token the browser session holds.
        headers = {"Authorization": f"Token {api_token(stack['api'], *ADMIN)}"}
        assert requests.get(f"{stack['api']}/auth/me/", headers=headers, timeout=60).status_code == 200
        sidebar.get_by_role("button", name="Log out").click()
        expect(page.get_by_label("Username")).to_be_visible()
    finally:
        page.close()
    # Logging out revoked the token.
    assert requests.get(f"{stack['api']}/auth/me/", headers=headers, timeout=60).status_code == 401
