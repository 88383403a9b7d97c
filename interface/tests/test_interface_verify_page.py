"""AppTests of the Verify page against the fake API."""

import pytest
import shapes

PAGE = "app_pages/verify.py"
SIGNER = shapes.signer()


def record(decision="genuine", score=0.91, review=None, **extra):
    return shapes.verification(decision=decision, score=score, review=review, **extra)


@pytest.fixture
def api(fake_api, png):
    fake_api.on("GET", "signers/", json=shapes.page([SIGNER]))
    fake_api.on("GET", "signers/ACC-1/references/", json=shapes.page([shapes.reference(i) for i in (11, 12, 13)]))
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
        "Score": "0.9100",
        "Genuine at or above": "0.7000",
        "Forgery below": "0.3500",
        "Closest reference": "0.120",
    }
    assert any("model sigverify-resnet18" in c.value for c in at.caption)
    captions = [c for image in at.image for c in image.captions]
    # Closest first: the questioned image, then references 11 (0.12), 13 (0.30), 12 (0.41), as uploaded
    # and preprocessed.
    assert "Questioned" in captions and "Questioned, preprocessed" in captions
    assert [c for c in captions if c.startswith("Reference") and "preprocessed" not in c] == [
        "Reference 11 · distance 0.120",
        "Reference 13 · distance 0.300",
        "Reference 12 · distance 0.410",
    ]
    assert [c for c in captions if c.endswith("preprocessed") and c.startswith("Reference")] == [
        "Reference 11, preprocessed",
        "Reference 13, preprocessed",
        "Reference 12, preprocessed",
    ]
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


def cheque_png(width=1600, height=700) -> bytes:
    import io

    from PIL import Image, ImageDraw

    image = Image.new("L", (width, height), 255)
    ImageDraw.Draw(image).line([(1000, 450), (1200, 380), (1400, 470)], fill=0, width=4)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


PROPOSAL = {
    "crop": {"x": 950, "y": 340, "width": 500, "height": 180},
    "image_width": 1600,
    "image_height": 700,
    "found": True,
    "code_line_top": 600,
    "signatures": [{"box": {"x": 960, "y": 350, "width": 480, "height": 160}, "confidence": 0.96}],
}


def upload_cheque(open_app, api, data=None, name="cheque.png", content_type="image/png", proposal=PROPOSAL):
    api.on("POST", "verifications/", status=201, json=record())
    if proposal is not None:
        api.on("POST", "signature-region/", json=proposal)
    at = choose_signer(open_app("clerk", page=PAGE))
    at.file_uploader[0].set_value((name, data or cheque_png(), content_type)).run()
    assert not at.exception
    return at


def canvas(at):
    """(key, element) of the drag-box canvas on the page."""
    elements = [e for e in at.main.children.values() if str(getattr(e, "key", None)).startswith("crop_canvas_")]
    return (elements[0].key, elements[0]) if elements else (None, None)


def sent_crop(api):
    return api.received("POST", "verifications/")[-1].form["crop"]


def test_whole_cheque_starts_on_the_proposed_box_on_the_canvas(open_app, api):
    import json

    at = upload_cheque(open_app, api)
    assert at.radio[0].value == "Whole cheque: mark the signature box"  # wide scan: box mode by default
    [asked] = api.received("POST", "signature-region/")
    assert [(f[0], f[1]) for f in asked.files] == [("image", "cheque.png")]
    key, element = canvas(at)
    assert element is not None, "the drag-box canvas is on the page"
    data = json.loads(element.proto.json)
    assert data["drawingMode"] == "rect" and (data["canvasWidth"], data["canvasHeight"]) == (900, 394)
    [rect] = data["initialDrawing"]["objects"]
    scale = 900 / 1600
    assert (rect["left"], rect["top"], rect["width"], rect["height"]) == pytest.approx(
        (950 * scale, 340 * scale, 500 * scale, 180 * scale)
    )
    assert any("What will be checked (500 × 180 px)" in c for image in at.image for c in image.captions)
    assert any("found" in c.value and "Drag a new rectangle" in c.value for c in at.caption)
    verify_button(at).click().run()
    assert not at.exception
    assert sent_crop(api) == "950,340,500,180"
    assert len(api.received("POST", "signature-region/")) == 1  # asked once per upload, not per rerun


def test_dragged_rectangle_is_sent_in_scan_pixels(open_app, api):
    import json

    at = upload_cheque(open_app, api)
    key, _ = canvas(at)
    scale = 900 / 1600
    drawn = {
        "type": "Rect",
        "left": 990 * scale,
        "top": 360 * scale,
        "width": 150,
        "height": 50,
        "scaleX": 2.0,
        "scaleY": 1.5,
        "originX": "left",
        "originY": "top",
    }
    proposed = {
        "type": "rect",
        "left": 950 * scale,
        "top": 340 * scale,
        "width": 500 * scale,
        "height": 180 * scale,
        "originX": "left",
        "originY": "top",
    }
    at.session_state[key] = {"drawing": {"raw": {"objects": [proposed, drawn]}, "data": None}}
    at.run()
    assert not at.exception
    assert any("What will be checked (533 × 133 px)" in c for image in at.image for c in image.captions)
    # The canvas is drawn again with the dragged box alone.
    new_key, element = canvas(at)
    assert new_key != key
    [rect] = json.loads(element.proto.json)["initialDrawing"]["objects"]
    assert (rect["left"], rect["top"], rect["width"], rect["height"]) == pytest.approx(
        (990 * scale, 360 * scale, 533 * scale, 133 * scale)
    )
    verify_button(at).click().run()
    assert not at.exception
    assert sent_crop(api) == "990,360,533,133"  # the last rectangle, 300 x 75 canvas px, in scan pixels
    next(b for b in at.button if b.label == "Back to the proposed box").click().run()
    assert any("What will be checked (500 × 180 px)" in c for image in at.image for c in image.captions)


def test_a_referral_for_image_quality_shows_the_reason_above_the_score(open_app, api, png):
    api.on("POST", "verifications/", status=201, json=record("refer", 0.02, reason=shapes.quality_reason("clipped")))
    at = choose_signer(open_app("clerk", page=PAGE))
    at.file_uploader[0].set_value(("questioned.png", png(), "image/png")).run()
    verify_button(at).click().run()
    assert not at.exception
    [warning] = [w for w in at.warning if "Referred for image quality" in w.value]
    assert "runs over the edge of the box" in warning.value and "`clipped`" in warning.value


def test_on_a_whole_cheque_the_questioned_thumbnail_is_the_box_checked(open_app, api):
    at = upload_cheque(open_app, api)
    api.on("POST", "verifications/", status=201, json=record(crop=[950, 340, 500, 180]))
    verify_button(at).click().run()
    assert not at.exception
    captions = [c for image in at.image for c in image.captions]
    assert "Questioned: the box checked (500 × 180 px at 950, 340)" in captions
    assert "Questioned" not in captions  # not the whole cheque
    assert not any("Referred for image quality" in w.value for w in at.warning)


def test_every_signature_found_is_drawn_and_the_clerk_picks_which_to_verify(open_app, api):
    import json

    second = {"x": 200, "y": 360, "width": 420, "height": 150}
    proposal = {
        **PROPOSAL,
        "signatures": [PROPOSAL["signatures"][0], {"box": second, "confidence": 0.81}],
    }
    at = upload_cheque(open_app, api, proposal=proposal)
    key, element = canvas(at)
    scale = 900 / 1600
    first, other = json.loads(element.proto.json)["initialDrawing"]["objects"]
    assert (first["left"], first["width"]) == pytest.approx((950 * scale, 500 * scale))  # crop: the first
    assert (other["left"], other["top"]) == pytest.approx((200 * scale, 360 * scale))
    assert first["stroke"] != other["stroke"]  # the one to verify stands out
    assert any("found 2 signatures" in c.value for c in at.caption)
    choice = at.radio(key=next(r.key for r in at.radio if str(r.key).startswith("crop_active_")))
    assert list(choice.options) == [
        "Signature 1 (confidence 0.96)",
        "Signature 2 (confidence 0.81)",
    ]
    choice.set_value(1).run()
    assert not at.exception
    _, element = canvas(at)
    first, other = json.loads(element.proto.json)["initialDrawing"]["objects"]
    assert other["stroke"] == "#dc1e1e"  # now the second is the one to verify
    verify_button(at).click().run()
    assert sent_crop(api) == "200,360,420,150"


def test_typed_numbers_are_the_fallback(open_app, api):
    at = upload_cheque(open_app, api)
    boxes = {n.label: n for n in at.number_input}
    assert {label: box.value for label, box in boxes.items()} == {
        "Left (x)": 950,
        "Top (y)": 340,
        "Width": 500,
        "Height": 180,
    }  # prefilled with the proposal
    boxes["Left (x)"].set_value(900)
    boxes["Width"].set_value(300)
    at.run()
    verify_button(at).click().run()
    assert sent_crop(api) == "950,340,500,180"  # typed numbers count only once chosen
    at.toggle[0].set_value(True).run()
    assert any("What will be checked (300 × 180 px)" in c for image in at.image for c in image.captions)
    verify_button(at).click().run()
    assert not at.exception
    assert sent_crop(api) == "900,340,300,180"


def test_typed_box_is_clipped_to_the_scan(open_app, api):
    at = upload_cheque(open_app, api)
    at.toggle[0].set_value(True).run()
    boxes = {n.label: n for n in at.number_input}
    boxes["Left (x)"].set_value(1500)
    boxes["Width"].set_value(1000)
    at.run()
    verify_button(at).click().run()
    x, y, w, h = map(int, sent_crop(api).split(","))
    assert x == 1500 and w == 100 and y + h <= 700


def test_without_a_proposal_the_box_starts_where_signatures_usually_are(open_app, api):
    api.error("POST", "signature-region/", 503, "service_unavailable", "Down for maintenance.")
    at = upload_cheque(open_app, api, proposal=None)
    assert not at.exception
    assert any("could not propose a box" in c.value for c in at.caption)
    verify_button(at).click().run()
    assert sent_crop(api) == "880,350,640,210"  # 55%, 50%, 40%, 30% of 1600 x 700


def test_group4_and_multi_page_tiffs_are_shown_and_sent_as_they_are(open_app, api):
    import io

    from PIL import Image

    front = Image.open(io.BytesIO(cheque_png())).convert("1")
    back = Image.new("1", front.size, 0)
    buffer = io.BytesIO()
    front.save(buffer, format="TIFF", compression="group4", dpi=(200, 200), save_all=True, append_images=[back])
    data = buffer.getvalue()
    at = upload_cheque(open_app, api, data=data, name="cheque.tif", content_type="image/tiff")
    assert "cannot open this file" not in " ".join(w.value for w in at.warning)
    assert at.radio[0].value == "Whole cheque: mark the signature box"
    assert api.received("POST", "signature-region/")[0].files[0][2] == data
    verify_button(at).click().run()
    assert not at.exception
    sent = api.received("POST", "verifications/")[-1]
    assert sent.files[0][1:] == ("cheque.tif", data) and sent.form["crop"] == "950,340,500,180"


@pytest.mark.parametrize(
    "status, code, message",
    [
        (409, "no_references", "Signer ACC-1 has no reference signatures; enroll some first."),
        (409, "signer_suspended", "Signer ACC-1 is suspended."),
        (400, "not_an_image", "The file is not an image we can read."),
        (503, "model_unavailable", "No model is active."),
    ],
)
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
    fake_api.on("GET", "signers/", json=shapes.page([dict(SIGNER, status="suspended")]))
    fake_api.on("GET", "signers/ACC-1/references/", json=shapes.page([]))
    at = choose_signer(open_app("clerk", page=PAGE))
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "suspended" in warnings and "no reference signatures" in warnings


def test_no_signer_found(open_app, fake_api):
    fake_api.on("GET", "signers/", json=shapes.page([]))
    at = choose_signer(open_app("clerk", page=PAGE))
    assert "No signer matches" in at.info[0].value


def run_verification(open_app, api, png, decision="genuine"):
    api.on("POST", "verifications/", status=201, json=record(decision=decision))
    at = choose_signer(open_app("clerk", page=PAGE))
    at.file_uploader[0].set_value(("q.png", png(), "image/png")).run()
    verify_button(at).click().run()
    return at


def test_confirming_the_decision_records_the_review(open_app, api, png):
    api.on("POST", "verifications/9/review/", status=201, json=shapes.review("genuine"))
    at = run_verification(open_app, api, png)
    assert at.radio[-1].options == ["Confirm: Genuine", "Overrule: Forgery"]
    assert at.radio[-1].value is None  # nothing preselected: the clerk must choose
    next(b for b in at.button if b.label == "Record review").click().run()
    assert "Choose your call first." in [w.value for w in at.warning]
    assert api.received("POST", "verifications/9/review/") == []
    at.radio[-1].set_value("Confirm: Genuine")
    next(b for b in at.button if b.label == "Record review").click().run()
    assert not at.exception
    assert api.received("POST", "verifications/9/review/")[0].json == {"final_decision": "genuine", "comment": ""}
    assert "Final call: **Genuine** (clara confirmed the model)." in [s.value for s in at.success]


def test_overruling_needs_a_comment(open_app, api, png):
    api.on("POST", "verifications/9/review/", status=201, json=shapes.review("forgery", "Hesitant strokes"))
    at = run_verification(open_app, api, png)
    at.radio[-1].set_value("Overrule: Forgery")
    next(b for b in at.button if b.label == "Record review").click().run()
    assert "explain" in at.warning[0].value
    assert api.received("POST", "verifications/9/review/") == []

    at.radio[-1].set_value("Overrule: Forgery")
    at.text_area[0].input("Hesitant strokes")
    next(b for b in at.button if b.label == "Record review").click().run()
    assert not at.exception
    assert api.received("POST", "verifications/9/review/")[0].json == {
        "final_decision": "forgery",
        "comment": "Hesitant strokes",
    }
    assert "overruled the model" in at.success[0].value


def test_referred_cheque_gets_a_final_call(open_app, api, png):
    api.on("POST", "verifications/9/review/", status=201, json=shapes.review("forgery"))
    at = run_verification(open_app, api, png, decision="refer")
    assert at.radio[-1].options == ["Genuine", "Forgery"]
    at.radio[-1].set_value("Forgery")
    next(b for b in at.button if b.label == "Record review").click().run()
    assert api.received("POST", "verifications/9/review/")[0].json["final_decision"] == "forgery"


def test_review_refused_by_the_api_is_explained(open_app, api, png):
    api.error("POST", "verifications/9/review/", 409, "already_reviewed", "This verification was already reviewed.")
    at = run_verification(open_app, api, png)
    at.radio[-1].set_value("Confirm: Genuine")
    next(b for b in at.button if b.label == "Record review").click().run()
    assert not at.exception
    assert at.error[0].value == "Review not saved: This verification was already reviewed."


def test_the_services_comment_rule_is_shown_on_the_form(open_app, api, png):
    message = "A comment is required when the review overrules the model's decision."
    api.error("POST", "verifications/9/review/", 400, "comment_required", message, fields={"comment": [message]})
    at = run_verification(open_app, api, png)
    at.radio[-1].set_value("Overrule: Forgery")
    at.text_area[0].input("   .")  # the interface lets it through; the service has the last word
    api.error("POST", "verifications/9/review/", 400, "comment_required", message, fields={"comment": [message]})
    next(b for b in at.button if b.label == "Record review").click().run()
    assert not at.exception
    assert at.error[0].value.startswith(f"Review not saved: {message}")
    assert f"comment: {message}" in at.error[0].value
    assert not at.success


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
