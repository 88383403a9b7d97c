"""In a real browser: on a whole cheque with two signatures the clerk's verify page draws a box on
each; the clerk picks the second, drags a rectangle of their own over it, and the verification is
made on the dragged box (the request's crop, the log, and the thumbnails of the part checked).

The servers, the browser and the tiny model come from ``browser_stack``."""

from __future__ import annotations

import io
import re

import pytest
import requests
from browser_stack import REFERENCES, WAIT_MS, api_token, drag, enrolled_stack, genuine_sample, log_in, shot, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CLERK = ("clerk2", "clerk-pass-boxes-1")
ADMIN = ("admin", "admin-pass-boxes-1")
WRITERS = ("01", "02")
SCAN_WIDTH = 1400


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with enrolled_stack(tmp_path_factory.mktemp("boxes"), ADMIN, CLERK, writers=WRITERS) as urls:
        yield urls


def two_signature_cheque() -> tuple[bytes, list[tuple[int, int, int, int]]]:
    """A generated joint-account cheque (printed fields, rules, code line) as a 200 dpi group 4 TIFF,
    signed by writer 01 (left) and writer 02 (right); and each signature's ink box (x0, y0, x1, y1)."""
    import numpy as np
    from PIL import Image

    from testsupport.synthetic_data import draw_cheque

    blank, _ = draw_cheque(size=(SCAN_WIDTH, 640), signature=Image.new("L", (8, 8), 255))
    page = np.asarray(blank.convert("L")).copy()
    inks = []
    for writer, x in zip(WRITERS, (560, 980), strict=True):
        strokes = np.asarray(Image.open(io.BytesIO(genuine_sample(writer, REFERENCES))).convert("L"))
        y = 330
        window = page[y : y + strokes.shape[0], x : x + strokes.shape[1]]
        page[y : y + strokes.shape[0], x : x + strokes.shape[1]] = np.minimum(window, strokes)
        ink = strokes < 128
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        inks.append((x + cols[0], y + rows[0], x + cols[-1] + 1, y + rows[-1] + 1))
    buffer = io.BytesIO()
    scan = Image.fromarray(page).convert("1", dither=Image.Dither.NONE)
    scan.save(buffer, format="TIFF", compression="group4", dpi=(200, 200))
    return buffer.getvalue(), inks


def test_clerk_drags_the_second_of_two_boxes_and_that_box_is_verified(stack, browser):
    from playwright.sync_api import expect

    data, inks = two_signature_cheque()
    scan = stack["tmp"] / "joint-cheque.tif"
    scan.write_bytes(data)
    headers = {"Authorization": f"Token {api_token(stack['api'], *ADMIN)}"}
    found = requests.post(f"{stack['api']}/signature-region/", headers=headers, files={"image": data}, timeout=60)
    signatures = found.json()["signatures"]
    assert len(signatures) == 2, signatures
    # The page lists the boxes best first; "Signature 2" is the second one found. Which ink is it?
    second = signatures[1]["box"]
    centre = second["x"] + second["width"] / 2
    writer_index = min(range(2), key=lambda i: abs((inks[i][0] + inks[i][2]) / 2 - centre))
    writer = WRITERS[writer_index]
    ix0, iy0, ix1, iy1 = inks[writer_index]
    proposed = (second["width"], second["height"])

    page = browser.new_page(viewport={"width": 1600, "height": 2800})
    page.set_default_timeout(WAIT_MS)
    try:
        log_in(page, stack["ui"], *CLERK)
        search = page.get_by_label("Find the signer by account / external id or name")
        search.fill(f"ACC-{writer}")
        search.press("Enter")
        expect(page.get_by_text(f"Reference signatures ({REFERENCES})")).to_be_visible()
        page.locator("input[type=file]").set_input_files(str(scan))
        expect(page.get_by_text("The service found 2 signatures; each has a box.", exact=False)).to_be_visible()
        wait_idle(page)
        page.get_by_role("radio", name=re.compile(r"^Signature 2")).check(force=True)
        wait_idle(page)
        expect(page.get_by_text(f"What will be checked ({proposed[0]} × {proposed[1]} px)")).to_be_visible()
        canvas = page.locator("canvas.upper-canvas")
        if canvas.count() == 0:  # Fabric's event layer; the last canvas otherwise
            canvas = page.locator("canvas").last
        expect(canvas).to_be_visible()
        shot(page, "30-verify-joint-cheque-two-boxes")

        # The clerk drags their own rectangle over the second signature: 10 scan pixels around its ink.
        scale = canvas.bounding_box()["width"] / SCAN_WIDTH
        x0, y0, x1, y1 = ix0 - 10, iy0 - 10, ix1 + 10, iy1 + 10
        drag(page, canvas, (x0 * scale, y0 * scale), (x1 * scale, y1 * scale))
        checked = page.get_by_text(re.compile(r"^What will be checked \((\d+) × (\d+) px\)$"))
        expect(checked).not_to_have_text(f"What will be checked ({proposed[0]} × {proposed[1]} px)")
        wait_idle(page)
        assert page.get_by_role("radio", name=re.compile(r"^Signature 2")).is_checked()
        shot(page, "31-verify-joint-cheque-second-box-dragged")

        page.get_by_label("Cheque reference (optional)").fill("CHQ-JOINT-2")
        page.get_by_label("Cheque reference (optional)").press("Enter")
        wait_idle(page)
        page.get_by_role("button", name="Verify signature").click()
        expect(page.locator(".sv-decision")).to_be_visible()
        expect(page.get_by_text("Questioned, preprocessed")).to_be_visible()
        wait_idle(page)
        shown = page.get_by_text(re.compile(r"Questioned: the box checked \(\d+ × \d+ px at \d+, \d+\)"))
        expect(shown).to_be_visible()
        caption = shown.inner_text()
        shot(page, "32-verify-joint-cheque-second-box-verified")
    finally:
        page.close()

    [row] = requests.get(
        f"{stack['api']}/verifications/", params={"cheque_reference": "CHQ-JOINT-2"}, headers=headers, timeout=60
    ).json()["results"]
    cx, cy, cw, ch = row["crop"]
    tolerance = 2 / scale + 4  # a CSS pixel of mouse position, and Fabric's stroke
    assert abs(cx - x0) <= tolerance and abs(cy - y0) <= tolerance, (row["crop"], (x0, y0, x1, y1))
    assert abs(cx + cw - x1) <= tolerance and abs(cy + ch - y1) <= tolerance, (row["crop"], (x0, y0, x1, y1))
    assert (cw, ch) != proposed  # the dragged box, not the proposal
    assert f"({cw} × {ch} px at {cx}, {cy})" in caption  # the thumbnail is the part checked
    assert row["decision"] == "genuine", row  # the signer's own signature was the one checked
    preprocessed = requests.get(f"{stack['api']}/verifications/{row['id']}/preprocessed/", headers=headers, timeout=60)
    assert preprocessed.status_code == 200 and preprocessed.headers["Content-Type"] == "image/png"
