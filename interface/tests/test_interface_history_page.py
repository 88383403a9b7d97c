"""AppTests of the History page against the fake API."""

import csv
import datetime as dt
import io

import shapes

import ui_common
from api_models import Verification

PAGE = "app_pages/history.py"


def row(i, decision="genuine", day="2026-11-20", review=None, requested_by="clara"):
    return shapes.verification(
        id=i,
        decision=decision,
        score=0.9 if decision == "genuine" else 0.1,
        review=review,
        distances=[{"reference": 11, "distance": 0.2}],
        model_version="m1",
        cheque_reference=f"CHQ{i}",
        requested_by=requested_by,
        created_at=f"{day}T10:00:0{i % 10}Z",
        processing_ms=40,
    )


ROWS = [
    row(1),
    row(2, "forgery", "2026-11-21"),
    row(3, "refer", "2026-11-21", review=shapes.review("forgery", "bad", reviewer="sam")),
]


def paged(fake_api, rows, page_size=2):
    def handler(request):
        page = int(request.query.get("page", 1))
        chunk = rows[(page - 1) * page_size : page * page_size]
        has_next = page * page_size < len(rows)
        query = "&".join(f"{k}={v}" for k, v in request.query.items() if k != "page")
        return fake_api.reply(
            json=shapes.page(
                chunk,
                count=len(rows),
                next=f"{fake_api.url}/verifications/?{query}&page={page + 1}" if has_next else None,
                previous=f"{fake_api.url}/verifications/?page={page - 1}" if page > 1 else None,
            )
        )

    fake_api.on("GET", "verifications/", handler=handler)


def test_table_chart_and_export_of_the_filtered_rows(open_app, fake_api):
    paged(fake_api, ROWS)
    at = open_app("clerk", page=PAGE)
    assert not at.exception
    first = fake_api.received("GET", "verifications/")[0].query
    today = dt.date.today()
    assert first == {
        "page": "1",
        "date_from": (today - dt.timedelta(days=30)).isoformat(),
        "date_to": today.isoformat(),
    }
    table = at.dataframe[0].value
    assert list(table["id"]) == [1, 2]  # first page of two
    assert list(table["decision"]) == ["Genuine", "Forgery"]
    assert "3 verification(s) match." in [c.value for c in at.caption]
    assert at.download_button[0].label == "Export 3 filtered row(s) as CSV"  # every page, not just this one
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")


def test_filters_are_sent_to_the_api(open_app, fake_api):
    paged(fake_api, [ROWS[1]])
    at = open_app("clerk", page=PAGE)
    at.text_input(key="history_signer").input("ACC-1")
    at.selectbox(key="history_decision").set_value("forgery")
    at.text_input(key="history_clerk").input("clara")
    at.date_input(key="history_dates").set_value((dt.date(2026, 11, 1), dt.date(2026, 11, 21)))
    at.run()
    assert not at.exception
    query = fake_api.received("GET", "verifications/")[-1].query
    assert query == {
        "signer": "ACC-1",
        "decision": "forgery",
        "requested_by": "clara",
        "date_from": "2026-11-01",
        "date_to": "2026-11-21",
    }
    assert list(at.dataframe[0].value["id"]) == [2]


def test_pagination(open_app, fake_api):
    paged(fake_api, ROWS)
    at = open_app("clerk", page=PAGE)
    at.button(key="history_next").click().run()
    assert not at.exception
    assert fake_api.received("GET", "verifications/")[-1].query["page"] == "2"
    assert list(at.dataframe[0].value["id"]) == [3]
    assert at.button(key="history_next").disabled
    at.button(key="history_prev").click().run()
    assert list(at.dataframe[0].value["id"]) == [1, 2]


def test_no_rows(open_app, fake_api):
    paged(fake_api, [])
    at = open_app("clerk", page=PAGE)
    assert not at.exception
    assert "No verification matches these filters." in at.info[0].value
    assert not at.download_button


def test_detail_view_with_images_scores_and_review(open_app, fake_api, png):
    paged(fake_api, ROWS)
    fake_api.on("GET", "verifications/2/", json=ROWS[1])
    for kind in ("image", "preprocessed"):
        fake_api.on("GET", f"verifications/2/{kind}/", body=png())
        fake_api.on("GET", f"signers/ACC-1/references/11/{kind}/", body=png())
    at = open_app("clerk", page=PAGE)
    at.selectbox(key="history_open").set_value(2).run()
    assert not at.exception
    assert any(">FORGERY<" in m.value for m in at.markdown)
    captions = [c for image in at.image for c in image.captions if c]  # the score bar has none
    assert captions[:2] == ["Questioned", "Questioned, preprocessed"]
    assert "Reference 11 · distance 0.200" in captions
    assert [b.label for b in at.button if b.label == "Record review"] == ["Record review"]


def test_detail_of_a_reviewed_verification_shows_the_review(open_app, fake_api, png):
    paged(fake_api, ROWS)
    fake_api.on("GET", "verifications/3/", json=ROWS[2])
    at = open_app("clerk", page=PAGE)
    fake_api.on("GET", "verifications/", handler=lambda r: fake_api.reply(json=shapes.page([ROWS[2]])))
    at.selectbox(key="history_decision").set_value("refer").run()
    at.selectbox(key="history_open").set_value(3).run()
    assert not at.exception
    assert at.success[0].value == "Final call: **Forgery** (sam decided)."
    assert "> bad" in [m.value for m in at.markdown]


def test_csv_has_one_line_per_row_with_review():
    text = ui_common.verifications_csv([Verification.model_validate(r) for r in ROWS])
    lines = list(csv.DictReader(io.StringIO(text)))
    assert [line["id"] for line in lines] == ["1", "2", "3"]
    assert lines[2]["decision"] == "Refer to supervisor"
    assert lines[2]["review"] == "Forgery" and lines[2]["reviewer"] == "sam" and lines[2]["review_comment"] == "bad"
    assert lines[0]["accept_threshold"] == "0.7" and lines[0]["clerk"] == "clara"


def test_work_queue_lists_referred_cheques_not_yet_reviewed(open_app, fake_api):
    paged(fake_api, [row(5, "refer")])
    at = open_app("clerk", page=PAGE)
    at.toggle(key="history_queue").set_value(True).run()
    assert not at.exception
    query = fake_api.received("GET", "verifications/")[-1].query
    assert query["decision"] == "refer" and query["reviewed"] == "false"
    assert at.selectbox(key="history_decision").disabled
    assert list(at.dataframe[0].value["id"]) == [5]
    paged(fake_api, [])
    at.date_input(key="history_dates").set_value((dt.date(2026, 11, 1), dt.date(2026, 11, 2))).run()
    assert "The work queue is empty" in at.success[0].value
    at.toggle(key="history_queue").set_value(False).run()
    assert "reviewed" not in fake_api.received("GET", "verifications/")[-1].query
