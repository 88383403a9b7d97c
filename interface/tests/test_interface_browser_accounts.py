"""Accounts and cheque review in a real browser (gunicorn API, Streamlit, Debian's chromium).

An integrator opens an account, sees its signatories with their reference thumbnails and the
mandate in words, edits the mandate (the rule in words follows the typing) and saves it with a
reason; a clerk opens the referred cheque from the work queue, sees the signature boxed on the
cheque, the matched signatory's references and why it was referred, toggles the full cheque,
parks it with a comment and gets a confirmation. Screenshots go to <repo>/test-artifacts/.
"""

from __future__ import annotations

import pytest
import requests
from browser_stack import api_token, log_in, shot, started_stack, user, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

INTEGRATOR = ("ivy", "int-pass-e2e-1")
CLERK = ("carl", "clerk-pass-e2e-1")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    statements = [
        user(*INTEGRATOR, "integrator"),
        user(*CLERK, "clerk"),
        "from testsupport.cheques import set_up_demo_account",
        "set_up_demo_account(size=(360, 150), paper=250, pen=4)",
    ]
    with started_stack(tmp_path_factory.mktemp("e2e-accounts"), statements) as urls:
        yield urls


def open_page(page, name: str) -> None:
    page.get_by_test_id("stSidebar").get_by_role("link", name=name).click()
    wait_idle(page)


def choose(page, label: str, option: str) -> None:
    page.get_by_label(label).click()
    page.get_by_role("option", name=option).first.click()
    wait_idle(page)


def test_integrator_reads_the_account_and_edits_the_mandate(stack, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 2200})
    log_in(page, stack["ui"], *INTEGRATOR)
    wait_idle(page)
    open_page(page, "Accounts")
    choose(page, "Account (1 found)", "12345678 · Example Trading Ltd")
    expect(page.get_by_text("Signatories (3)")).to_be_visible()
    expect(page.get_by_text("Director 2").first).to_be_visible()
    expect(page.get_by_text("Any amount: 2 of group A").first).to_be_visible()
    # reference thumbnails: three per signatory
    page.wait_for_function("() => Array.from(document.images).filter(i => i.naturalWidth > 0).length >= 9")
    shot(page, "accounts-01-account")

    page.get_by_text("Edit the mandate").click()
    bands = page.get_by_label("Bands")
    bands.fill("2")
    bands.press("Enter")
    wait_idle(page)
    first_amount = page.get_by_label("Up to (amount)").first
    first_amount.fill("1000")
    first_amount.press("Enter")
    wait_idle(page)
    first_rule = page.get_by_label("Who must sign").first
    first_rule.fill("1 of A")
    first_rule.press("Enter")
    wait_idle(page)
    second_rule = page.get_by_label("Who must sign").nth(1)
    second_rule.fill("2 of A or 3 of *")
    second_rule.press("Enter")
    wait_idle(page)
    expect(page.get_by_text("Up to 1,000.00: 1 of group A").first).to_be_visible()
    expect(page.get_by_text("Above 1,000.00: 2 of group A, or 3 signatories of any group").first).to_be_visible()
    reason = page.get_by_label("Reason for the change (kept in the audit trail)")
    reason.fill("e2e: small cheques need one director")
    reason.press("Enter")
    wait_idle(page)
    shot(page, "accounts-02-mandate-editor")
    page.get_by_role("button", name="Save the mandate").click()
    wait_idle(page)
    expect(page.get_by_text("Set by ivy").first).to_be_visible()
    shot(page, "accounts-03-mandate-saved")

    headers = {"Authorization": f"Token {api_token(stack['api'], *INTEGRATOR)}"}
    mandate = requests.get(f"{stack['api']}/accounts/12345678/mandate/", headers=headers, timeout=60).json()
    assert mandate[0]["reason"] == "e2e: small cheques need one director"
    assert mandate[0]["bands"][0] == {"up_to": "1000.00", "any_of": [[{"group": "A", "count": 1}]]}
    page.close()


def test_clerk_reviews_a_referred_cheque_and_parks_it(stack, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    log_in(page, stack["ui"], *CLERK)
    wait_idle(page)
    headers = {"Authorization": f"Token {api_token(stack['api'], *CLERK)}"}
    decided = requests.get(f"{stack['api']}/cheques/1/", headers=headers, timeout=60).json()
    assert decided["decision"] in ("refer", "return")  # one signature of a two-of-three account: never paid
    open_page(page, "Cheque review")
    page.get_by_text("All cheques").click()
    wait_idle(page)
    label = {"refer": "Refer to a clerk", "return": "Return"}[decided["decision"]]
    choose(page, "Cheque (1 in the list)", f"#1 · 12345678 · 250.00 · {label} · CHQ-1")
    expect(page.locator(f".sv-cheque-{decided['decision']}")).to_be_visible()
    expect(
        page.get_by_text("Why it " + ("was referred" if decided["decision"] == "refer" else "would be returned"))
    ).to_be_visible()
    expect(page.get_by_text("needs 2 of group A, found").first).to_be_visible()
    expect(page.get_by_text("Signature 1").first).to_be_visible()
    expect(page.get_by_text("The signatures (toggle for the full cheque)")).to_be_visible()
    shot(page, "cheque-01-review")
    page.get_by_text("Show the full cheque").click()
    wait_idle(page)
    expect(page.get_by_text("Cheque #1, 1 signature(s) found")).to_be_visible()
    shot(page, "cheque-02-full")

    page.get_by_text("Park (special case)").click()
    page.get_by_label("Comment (required to park, or to pay a cheque the system would return)").fill(
        "e2e: second director abroad, call"
    )
    page.get_by_role("button", name="Record review").click()
    wait_idle(page)
    expect(page.get_by_text("Review recorded: Park (special case) for cheque #1 by carl.")).to_be_visible()
    shot(page, "cheque-03-parked")

    cheque = requests.get(f"{stack['api']}/cheques/1/", headers=headers, timeout=60).json()
    assert [(r["outcome"], r["reviewer"]) for r in cheque["reviews"]] == [("park", "carl")]
    page.close()
