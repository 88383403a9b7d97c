"""AppTests of the Verify page against the fake API."""

import pytest

PAGE = "app_pages/verify.py"
SIGNER = {"id": 4, "external_id": "ACC-1", "full_name": "Ann Smith", "status": "active", "reference_count": 3}


def record(decision="genuine", score=0.91, review=None, **extra):
    return {"id": 9, "signer": 4, "signer_external_id": "ACC-1", "signer_name": "Ann Smith", "decision": decision,
            "score": score, "z_score": -1.0,
            "distances": [{"reference": 12, "distance": 0.41}, {"reference": 11, "distance": 0.12},
                          {"reference": 13, "distance": 0.3}],
            "thresholds": {"accept": 0.7, "reject": 0.35, "eer": 0.5}, "model_version": "sigverify-resnet18",
            "model_version_id": 1, "cheque_reference": "", "crop": None, "requested_by": "clara",
            "created_at": "2026-11-22T01:00:00Z", "processing_ms": 42, "review": review, **extra}


@pytest.fixture
def api(fake_api, png):
    fake_api.on("GET", "signers/", json={"count": 1, "next": None, "previous": None, "results": [SIGNER]})
    fake_api.on("GET", "signers/ACC-1/references/", json=[{"id": i, "signer": 4} for i in (11, 12, 13)])
    for ref in (11, 12, 13):
        for kind in ("image", "preprocessed"):
            fake_api.on("GET", f"signers/ACC-1/references/{ref}/{kind}/", body=png())
    for kind in ("image", "preprocessed"):
        fake_api.on("GET", f"verifications/9/{kind}/", body=png())
    return fake_api


def choose_signer(at):
    at.text_input(key="verify_query").input("Smith").run()
    return at


def markdown_text(at):
    return "\n".join(m.value for m in at.markdown)


def verify_button(at):
    return next(b for b in at.button if b.label == "Verify signature")


def test_signer_search_shows_reference_thumbnails(open_app, api):
    at = choose_signer(open_app("clerk", page=PAGE))
    assert not at.exception
    assert api.received("GET", "signers/")[-1].query == {"search": "Smith"}
    assert at.selectbox(key="verify_signer").value == 4
    assert "**Reference signatures** (3)" in markdown_text(at)
    captions = [c for image in at.image for c in image.captions]
    assert captions == ["#11", "#12", "#13"]
    assert verify_button(at).disabled  # nothing uploaded yet


def test_verify_a_signature_crop_shows_decision_score_and_closest_references(open_app, api, png):
    api.on("POST", "verifications/", status=201, json=record())
    at = choose_signer(open_app("clerk", page=PAGE))
    at.file_uploader[0].set_value(("questioned.png", png(), "image/png")).run()
    at.text_input(key="verify_cheque_0").input("000123").run()
    verify_button(at).click().run()
    assert not at.exception

    sent = api.received("POST", "verifications/")[0]
    assert sent.form == {"signer": "ACC-1", "cheque_reference": "000123"}  # no crop for a signature crop
    assert [(f[0], f[1]) for f in sent.files] == [("image", "questioned.png")]

    text = markdown_text(at)
    assert "sv-genuine" in text and ">GENUINE<" in text
    assert {m.label: m.value for m in at.metric} == {
        "Score": "0.910", "Genuine at or above": "0.70", "Forgery below": "0.35", "Closest reference": "0.120"}
    assert any("model sigverify-resnet18" in c.value for c in at.caption)
    captions = [c for image in at.image for c in image.captions]
    # Closest first: the questioned image, then references 11 (0.12), 13 (0.30), 12 (0.41), as uploaded
    # and preprocessed.
    assert "Questioned" in captions and "Questioned, preprocessed" in captions
    assert [c for c in captions if c.startswith("Reference") and "preprocessed" not in c] == [
        "Reference 11 · distance 0.120", "Reference 13 · distance 0.300", "Reference 12 · distance 0.410"]
    assert [c for c in captions if c.endswith("preprocessed") and c.startswith("Reference")] == [
        "Reference 11, preprocessed", "Reference 13, preprocessed", "Reference 12, preprocessed"]
    distances = at.dataframe[-1].value
    assert list(distances["reference"]) == [11, 13, 12]


@pytest.mark.parametrize("decision, label", [("refer", "REFER TO SUPERVISOR"), ("forgery", "FORGERY")])
def test_decision_is_shown_big_in_its_colour(open_app, api, png, decision, label):
    api.on("POST", "verifications/", status=201, json=record(decision=decision, score=0.2))
    at = choose_signer(open_app("clerk", page=PAGE))
    at.file_uploader[0].set_value(("q.png", png(), "image/png")).run()
    verify_button(at).click().run()
    assert not at.exception
    banner = next(m.value for m in at.markdown if "sv-decision" in m.value)
    assert f">{label}<" in banner and f"sv-{decision}" in banner


def test_whole_cheque_sends_the_signature_box_as_crop(open_app, api, png):
    api.on("POST", "verifications/", status=201, json=record())
    at = choose_signer(open_app("clerk", page=PAGE))
    at.file_uploader[0].set_value(("cheque.png", png(1600, 700), "image/png")).run()
    assert at.radio[0].value == "Whole cheque: mark the signature box"  # wide scan: box mode by default
    boxes = {n.label: n for n in at.number_input}
    assert set(boxes) == {"Left (x)", "Top (y)", "Width", "Height"}
    boxes["Left (x)"].set_value(900)
    boxes["Top (y)"].set_value(400)
    boxes["Width"].set_value(500)
    boxes["Height"].set_value(200)
    at.run()
    assert any("What will be checked (500 × 200 px)" in c for image in at.image for c in image.captions)
    verify_button(at).click().run()
    assert not at.exception
    assert api.received("POST", "verifications/")[0].form["crop"] == "900,400,500,200"


def test_box_is_clipped_to_the_scan(open_app, api, png):
    api.on("POST", "verifications/", status=201, json=record())
    at = choose_signer(open_app("clerk", page=PAGE))
    at.file_uploader[0].set_value(("cheque.png", png(1600, 700), "image/png")).run()
    boxes = {n.label: n for n in at.number_input}
    boxes["Left (x)"].set_value(1500)
    boxes["Width"].set_value(1000)
    at.run()
    verify_button(at).click().run()
    x, y, w, h = map(int, api.received("POST", "verifications/")[0].form["crop"].split(","))
    assert x == 1500 and w == 100 and y + h <= 700


@pytest.mark.parametrize("status, code, message", [
    (409, "no_references", "Signer ACC-1 has no reference signatures; enroll some first."),
    (409, "signer_suspended", "Signer ACC-1 is suspended."),
    (400, "not_an_image", "The file is not an image we can read."),
    (503, "model_unavailable", "No model is active."),
])
def test_api_refusals_are_shown_in_plain_words(open_app, api, png, status, code, message):
    api.error("POST", "verifications/", status, code, message)
    at = choose_signer(open_app("clerk", page=PAGE))
    at.file_uploader[0].set_value(("q.png", png(), "image/png")).run()
    verify_button(at).click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [f"Not verified: {message}"]
    assert "verify_result" not in at.session_state


def test_unreadable_upload_is_still_sent_and_the_api_says_why(open_app, api):
    api.error("POST", "verifications/", 400, "not_an_image", "This file is not an image.")
    at = choose_signer(open_app("clerk", page=PAGE))
    at.file_uploader[0].set_value(("notes.png", b"hello, not a picture", "image/png")).run()
    assert "cannot open this file" in at.warning[0].value
    verify_button(at).click().run()
    assert not at.exception
    assert at.error[0].value == "Not verified: This file is not an image."


def test_suspended_signer_and_signer_without_references_are_flagged(open_app, fake_api):
    fake_api.on("GET", "signers/", json={"count": 1, "next": None, "previous": None,
                                         "results": [dict(SIGNER, status="suspended")]})
    fake_api.on("GET", "signers/ACC-1/references/", json=[])
    at = choose_signer(open_app("clerk", page=PAGE))
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "suspended" in warnings and "no reference signatures" in warnings


def test_no_signer_found(open_app, fake_api):
    fake_api.on("GET", "signers/", json={"count": 0, "next": None, "previous": None, "results": []})
    at = choose_signer(open_app("clerk", page=PAGE))
    assert "No signer matches" in at.info[0].value


def run_verification(open_app, api, png, decision="genuine"):
    api.on("POST", "verifications/", status=201, json=record(decision=decision))
    at = choose_signer(open_app("clerk", page=PAGE))
    at.file_uploader[0].set_value(("q.png", png(), "image/png")).run()
    verify_button(at).click().run()
    return at


def test_confirming_the_decision_records_the_review(open_app, api, png):
    api.on("POST", "verifications/9/review/", status=201,
           json={"final_decision": "genuine", "comment": "", "reviewer": "clara", "created_at": "2026-11-22T01:01:00Z"})
    at = run_verification(open_app, api, png)
    assert at.radio[-1].options == ["Confirm: Genuine", "Overrule: Forgery"]
    next(b for b in at.button if b.label == "Record review").click().run()
    assert not at.exception
    assert api.received("POST", "verifications/9/review/")[0].json == {"final_decision": "genuine", "comment": ""}
    assert "Final call: **Genuine** (clara confirmed the model)." in [s.value for s in at.success]


def test_overruling_needs_a_comment(open_app, api, png):
    api.on("POST", "verifications/9/review/", status=201,
           json={"final_decision": "forgery", "comment": "Hesitant strokes", "reviewer": "clara"})
    at = run_verification(open_app, api, png)
    at.radio[-1].set_value("Overrule: Forgery")
    next(b for b in at.button if b.label == "Record review").click().run()
    assert "explain" in at.warning[0].value
    assert api.received("POST", "verifications/9/review/") == []

    at.radio[-1].set_value("Overrule: Forgery")
    at.text_area[0].input("Hesitant strokes")
    next(b for b in at.button if b.label == "Record review").click().run()
    assert not at.exception
    assert api.received("POST", "verifications/9/review/")[0].json == {"final_decision": "forgery",
                                                                      "comment": "Hesitant strokes"}
    assert "overruled the model" in at.success[0].value


def test_referred_cheque_gets_a_final_call(open_app, api, png):
    api.on("POST", "verifications/9/review/", status=201, json={"final_decision": "forgery", "comment": "",
                                                                "reviewer": "clara"})
    at = run_verification(open_app, api, png, decision="refer")
    assert at.radio[-1].options == ["Genuine", "Forgery"]
    at.radio[-1].set_value("Forgery")
    next(b for b in at.button if b.label == "Record review").click().run()
    assert api.received("POST", "verifications/9/review/")[0].json["final_decision"] == "forgery"


def test_review_refused_by_the_api_is_explained(open_app, api, png):
    api.error("POST", "verifications/9/review/", 409, "already_reviewed", "This verification was already reviewed.")
    at = run_verification(open_app, api, png)
    next(b for b in at.button if b.label == "Record review").click().run()
    assert not at.exception
    assert at.error[0].value == "Review not saved: This verification was already reviewed."


def test_integrator_verifies_but_does_not_review(open_app, api, png):
    api.on("POST", "verifications/", status=201, json=record())
    at = choose_signer(open_app("integrator", page=PAGE))
    at.file_uploader[0].set_value(("q.png", png(), "image/png")).run()
    verify_button(at).click().run()
    assert not at.exception
    assert not [b for b in at.button if b.label == "Record review"]
    assert "Not reviewed yet." in [c.value for c in at.caption]


def test_new_verification_clears_the_result(open_app, api, png):
    at = run_verification(open_app, api, png)
    next(b for b in at.button if b.label == "Start a new verification").click().run()
    assert "verify_result" not in at.session_state
    assert at.file_uploader[0].key == "verify_upload_1"
