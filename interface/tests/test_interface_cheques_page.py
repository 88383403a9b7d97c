"""AppTests of the Accounts and Cheque review pages against the fake API."""

from __future__ import annotations

import shapes

import mandate_words
import ui_common

ACCOUNTS = "app_pages/accounts.py"
CHEQUES = "app_pages/cheques.py"


def test_thresholds_read_with_the_precision_the_decision_uses():
    assert ui_common.threshold_text(0.9189308) == "0.9189"
    assert ui_common.score_text(0.95, 0.9189308, 0.05) == "0.9500"
    # 0.91888 < 0.9189308: shown with the decimals that keep it below the shown threshold
    assert ui_common.score_text(0.91888, 0.9189308, 0.05) == "0.91888"
    assert ui_common.score_text(0.91893, 0.9189308, 0.05) == "0.918930"  # against 0.918931
    assert ui_common.decision_digits([0.91893], [0.9189308]) == 6


def test_the_score_bar_draws_only_the_thresholds_it_was_given():
    def bands(figure):
        return sorted((round(p.get_x(), 4), round(p.get_x() + p.get_width(), 4)) for p in figure.axes[0].patches)

    assert bands(ui_common.score_figure(0.7, 0.9, 0.2)) == [(0.0, 0.2), (0.2, 0.9), (0.9, 1.0)]
    unknown = ui_common.score_figure(0.7, None, None)
    assert bands(unknown) == [] and unknown.axes[0].get_title() == "thresholds unknown"
    assert bands(ui_common.score_figure(0.7, 0.9, None)) == [(0.9, 1.0)]
    assert ui_common.threshold_text(None) == "unknown"


def test_mandate_editor_language_round_trips_and_reads_in_words():
    bands = mandate_words.bands_from_rows([("1,000", "1 of A"), ("", "2 of A or 1 of A and 1 of B or 3 of *")])
    assert bands == [
        {"up_to": "1000.00", "any_of": [[{"group": "A", "count": 1}]]},
        {
            "up_to": None,
            "any_of": [
                [{"group": "A", "count": 2}],
                [{"group": "A", "count": 1}, {"group": "B", "count": 1}],
                [{"group": "*", "count": 3}],
            ],
        },
    ]
    assert mandate_words.bands_from_rows(mandate_words.rows_from_bands(bands)) == bands


def test_unreadable_rules_are_explained():
    import pytest

    with pytest.raises(ValueError, match="Band 1: cannot read “two of A”"):
        mandate_words.bands_from_rows([("", "two of A")])
    with pytest.raises(ValueError, match="Band 2: “ten” is not an amount"):
        mandate_words.bands_from_rows([("5", "1 of A"), ("ten", "1 of A")])


def test_accounts_page_shows_signatories_thumbnails_and_the_mandate(open_app, fake_api, png):
    account = shapes.account(mandate_=shapes.mandate())
    fake_api.on("GET", "accounts/", json=shapes.page([account]))
    fake_api.on("GET", "accounts/12345678/", json=account)
    for i in (1, 2, 3):
        fake_api.on(
            "GET", f"signers/DIR-{i}/references/", json=shapes.page([shapes.reference(10 + i, external_id=f"DIR-{i}")])
        )
        fake_api.on("GET", f"signers/DIR-{i}/references/{10 + i}/image/", body=png(), content_type="image/png")
    at = open_app("clerk", page=ACCOUNTS)
    at.selectbox[0].select("12345678").run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "Signatories (3)" in text and "Director 2" in text and "Any amount: 2 of group A" in text
    assert len(at.image) == 3
    assert [b.label for b in at.button] == ["Log out"]  # a clerk reads: no remove, no editor


def test_integrator_saves_a_mandate_typed_in_the_editor(open_app, fake_api):
    account = shapes.account(mandate_=None)
    fake_api.on("GET", "accounts/", json=shapes.page([account]))
    fake_api.on("GET", "accounts/12345678/", json=account)
    for i in (1, 2, 3):
        fake_api.on("GET", f"signers/DIR-{i}/references/", json=shapes.page([]))
    fake_api.on("PUT", "accounts/12345678/mandate/", json=shapes.mandate())
    words = "Any amount: 2 of group A, or 3 signatories of any group"
    fake_api.on("POST", "accounts/12345678/mandate/words/", json={"words": [words]})
    at = open_app("integrator", page=ACCOUNTS)
    at.selectbox[0].select("12345678").run()
    at.text_input(key="rule_12345678_0").input("2 of A or 3 of *").run()
    assert words in " ".join(m.value for m in at.markdown)  # the API's words for the typed bands
    typed = {"bands": [{"up_to": None, "any_of": [[{"group": "A", "count": 2}], [{"group": "*", "count": 3}]]}]}
    assert fake_api.received("POST", "accounts/12345678/mandate/words/")[-1].json == typed
    at.text_input(key="mandate_reason_12345678").input("resolution").run()
    at.button(key="save_mandate_12345678").click().run()
    assert not at.exception
    sent = fake_api.received("PUT", "accounts/12345678/mandate/")[0].json
    assert sent == {
        "bands": [{"up_to": None, "any_of": [[{"group": "A", "count": 2}], [{"group": "*", "count": 3}]]}],
        "reason": "resolution",
    }


def test_review_screen_shows_why_boxes_references_and_confirms_the_call(open_app, fake_api, png):
    from PIL import Image

    from testsupport.synthetic_data import png_bytes as encode

    cheque = shapes.cheque()
    fake_api.on("GET", "cheques/", json=shapes.page([cheque]))
    fake_api.on("GET", "cheques/1/", json=cheque)
    fake_api.on("GET", "cheques/1/image/", body=encode(Image.new("L", (300, 120), 255)), content_type="image/png")
    for ref in (12, 11):
        fake_api.on("GET", f"signers/DIR-1/references/{ref}/image/", body=png(), content_type="image/png")
    fake_api.on(
        "POST",
        "cheques/1/review/",
        status=201,
        json={"id": 5, "outcome": "park", "comment": "call", "reviewer": "clara", "created_at": shapes.WHEN},
    )
    at = open_app("clerk", page=CHEQUES)
    at.selectbox[0].select(1).run()
    assert not at.exception
    assert "Why it was referred" in at.warning[0].value and "needs 2 of group A, found 1" in at.warning[0].value
    assert any("0.9189" in c.value for c in at.caption)
    captions = [c for image in at.image for c in image.captions]
    assert "The signatures (toggle for the full cheque)" in captions
    assert "Director 1 #12 (most alike)" in captions and "Director 1 #11" in captions
    at.toggle(key="cheque_full_1").set_value(True).run()
    assert any(c.startswith("Cheque #1, 1 signature(s) found") for image in at.image for c in image.captions)
    at.radio[-1].set_value("Park (special case)")
    at.text_area[-1].input("call")
    next(b for b in at.button if b.label == "Record review").click().run()
    assert fake_api.received("POST", "cheques/1/review/")[0].json == {"outcome": "park", "comment": "call"}
    assert any("Review recorded: Park (special case) for cheque #1 by clara." in s.value for s in at.success)
