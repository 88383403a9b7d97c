"""The Clearing page in a real browser: a clerk uploads an image cash letter, follows its run on a
real Celery worker (the embedded file-system broker, as ``make run``), filters the items, opens
one, and exports; an unreadable file is refused with its record number.

Servers, browser and tiny model come from ``browser_stack``. Screenshots go to <repo>/test-artifacts/.
"""

from __future__ import annotations

import pytest
import requests
from browser_stack import (
    WAIT_MS,
    api_token,
    log_in,
    shot,
    started_stack,
    user,
    wait_idle,
)

from testsupport.servers import CeleryWorker, start_celery_worker
from testsupport.synthetic_data import draw_cheque
from x937.writer import CheckItem, file_bytes, g4_tiff

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CLERK = ("clara", "clerk-pass-clearing-1")
ACCOUNT = "12345678"


def cheque_tiff() -> bytes:
    picture, _ = draw_cheque(3, size=(1200, 550))
    return g4_tiff(picture)


def cash_letter() -> bytes:
    image = cheque_tiff()
    return file_bytes(
        [
            CheckItem(125_000, f"{ACCOUNT}/0001", "1", image),
            CheckItem(2_000, "99999999/0002", "2", image),  # an account the bank does not hold
            CheckItem(3_000, f"{ACCOUNT}/0003", "3", None),  # no image in the file
        ],
        encoding="ebcdic",
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    statements = [
        user(*CLERK, "clerk"),
        "from apps.mandates.services import account_create",
        f"account_create(number={ACCOUNT!r}, name='Clearing Test Ltd')",
    ]
    with started_stack(tmp_path_factory.mktemp("e2e-clearing"), statements) as urls:
        log = urls["tmp"] / "worker.log"
        worker = CeleryWorker(start_celery_worker(urls["env"], log, queues="default"), log)
        try:
            yield {**urls, "worker": worker}
        finally:
            worker.stop()
            print(f"--- worker log (tail) ---\n{worker.log_tail(2000)}")


def test_clerk_uploads_follows_filters_opens_and_exports(stack, browser):
    from playwright.sync_api import expect

    good = stack["tmp"] / "cash-letter.icl"
    good.write_bytes(cash_letter())
    cut = stack["tmp"] / "cut.icl"
    cut.write_bytes(good.read_bytes()[:900])

    page = browser.new_page(viewport={"width": 1400, "height": 2200})
    page.set_default_timeout(WAIT_MS)
    log_in(page, stack["ui"], *CLERK)
    wait_idle(page)
    page.get_by_test_id("stSidebar").get_by_role("link", name="Clearing").click()
    expect(page.get_by_role("heading", name="Clearing files")).to_be_visible()

    # A file cut short is refused, naming the record.
    page.locator("input[type=file]").set_input_files(str(cut))
    expect(page.get_by_text(cut.name).first).to_be_visible()
    page.get_by_role("button", name="Send for clearing").click()
    expect(page.get_by_text("The file was refused").first).to_be_visible()
    expect(page.get_by_text("cannot be read: record").first).to_be_visible()
    wait_idle(page)
    shot(page, "clearing-01-refused")

    page.locator("input[type=file]").set_input_files(str(good))
    expect(page.get_by_text(good.name).first).to_be_visible()
    page.get_by_role("button", name="Send for clearing").click()
    expect(page.get_by_text("Accepted as clearing file").first).to_be_visible()
    expect(page.get_by_text("done: 3 of 3 checks finished").first).to_be_visible(timeout=3 * WAIT_MS)
    expect(page.get_by_text("3 item(s) match.")).to_be_visible()
    wait_idle(page)
    shot(page, "clearing-02-done")

    page.get_by_role("combobox", name="Status").click()
    page.get_by_role("option", name="failed").click()
    expect(page.get_by_text("2 item(s) match.")).to_be_visible()
    wait_idle(page)
    page.get_by_role("combobox", name="Open an item").click()
    page.get_by_role("option", name="3").click()
    expect(page.get_by_text("Not decided (image_missing)").first).to_be_visible()
    wait_idle(page)
    shot(page, "clearing-03-failed-item")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    exported = download.value.path().read_text()
    assert exported.splitlines()[0].startswith("key,index,record_number")
    assert len(exported.splitlines()) == 3  # the header and the two failed items (the filter applies)

    token = api_token(stack["api"], *CLERK)
    files = requests.get(
        f"{stack['api']}/clearing-files/", headers={"Authorization": f"Token {token}"}, timeout=60
    ).json()["results"]
    assert len(files) == 1 and files[0]["items"] == {"total": 3, "decided": 1, "failed": 2}
