"""AppTests of the Enroll page against the fake API."""

import shapes

PAGE = "app_pages/enroll.py"
SIGNER = shapes.signer(id=7, external_id="ACC-7", full_name="Bo Lind", reference_count=0)


def references(*ids):
    return shapes.page([shapes.reference(i, signer=7, external_id="ACC-7") for i in ids])


def test_create_signer_then_upload_several_references(open_app, fake_api, png):
    fake_api.on("POST", "signers/", status=201, json=SIGNER)
    refs = []
    fake_api.on("GET", "signers/ACC-7/references/", handler=lambda r: fake_api.reply(json=shapes.page(list(refs))))

    def upload(request):
        refs.append(shapes.reference(70, signer=7, external_id="ACC-7", original_name="a.png"))
        return fake_api.reply(
            201,
            json=shapes.upload_result(
                [refs[-1]], [shapes.rejection("blank.png", "no_ink", "No ink was found on the page.")]
            ),
        )

    fake_api.on("POST", "signers/ACC-7/references/", handler=upload)
    fake_api.on("GET", "signers/ACC-7/references/70/image/", body=png())

    at = open_app("integrator", page=PAGE)
    assert not at.exception
    at.text_input[0].input("ACC-7")
    at.text_input[1].input("Bo Lind")
    next(b for b in at.button if b.label == "Create signer").click().run()
    assert not at.exception
    assert fake_api.received("POST", "signers/")[0].json == {
        "external_id": "ACC-7",
        "full_name": "Bo Lind",
        "status": "active",
    }
    assert "Signer ACC-7 (Bo Lind) created." in at.success[0].value
    assert "only 0 reference" in at.warning[0].value

    at.file_uploader[0].set_value([("a.png", png(), "image/png"), ("blank.png", png(stroke=False), "image/png")])
    at.run()
    next(b for b in at.button if b.label == "Upload 2 reference(s)").click().run()
    assert not at.exception
    sent = fake_api.received("POST", "signers/ACC-7/references/")[0]
    assert [(f[0], f[1]) for f in sent.files] == [("images", "a.png"), ("images", "blank.png")]
    assert at.success[-1].value == "1 image(s) accepted."
    assert at.error[0].value == "1 image(s) rejected."
    rejected = at.dataframe[1].value
    assert list(rejected["file"]) == ["blank.png"]
    assert list(rejected["reason"]) == ["No ink was found on the page."]
    assert "ACC-7 has only 1 reference signature(s)" in at.warning[0].value
    assert at.file_uploader[0].key == "enroll_files_1"  # emptied for the next batch


def test_all_images_rejected_still_lists_the_reasons(open_app, fake_api, png):
    fake_api.on("GET", "signers/", json=shapes.page([SIGNER]))
    fake_api.on("GET", "signers/ACC-7/references/", json=references())
    fake_api.on(
        "POST",
        "signers/ACC-7/references/",
        status=400,
        json={
            **shapes.upload_result([], [shapes.rejection("x.png", "not_an_image", "Not an image.")]),
            "error": {"code": "no_image_accepted", "message": "No image was accepted.", "fields": {}},
        },
    )
    at = open_app("admin", page=PAGE)
    at.radio(key="enroll_mode").set_value("Existing signer").run()
    at.text_input(key="enroll_query").input("ACC-7").run()
    at.file_uploader[0].set_value([("x.png", b"text", "image/png")]).run()
    next(b for b in at.button if b.label.startswith("Upload 1")).click().run()
    assert not at.exception
    assert at.error[0].value == "1 image(s) rejected."
    assert list(at.dataframe[0].value["reason"]) == ["Not an image."]


def test_enough_references_no_warning(open_app, fake_api, png):
    fake_api.on("GET", "signers/", json=shapes.page([SIGNER]))
    fake_api.on("GET", "signers/ACC-7/references/", json=references(1, 2, 3))
    for i in (1, 2, 3):
        fake_api.on("GET", f"signers/ACC-7/references/{i}/image/", body=png())
    at = open_app("integrator", page=PAGE)
    at.radio(key="enroll_mode").set_value("Existing signer").run()
    at.text_input(key="enroll_query").input("Lind").run()
    assert not at.exception
    assert not at.warning
    assert "ACC-7 has 3 reference signatures." in at.info[0].value
    assert len(at.image) == 3


def test_duplicate_external_id_is_explained(open_app, fake_api):
    fake_api.error(
        "POST",
        "signers/",
        400,
        "invalid",
        "Invalid input.",
        fields={"external_id": ["signer with this external id already exists."]},
    )
    at = open_app("integrator", page=PAGE)
    at.text_input[0].input("ACC-7")
    at.text_input[1].input("Bo Lind")
    next(b for b in at.button if b.label == "Create signer").click().run()
    assert not at.exception
    assert at.error[0].value == (
        "Signer not created: Invalid input.\n\n- external_id: signer with this external id already exists."
    )
    assert "enroll_signer" not in at.session_state


def test_role_without_permission_sees_the_refusal(open_app, fake_api):
    fake_api.error("POST", "signers/", 403, "permission_denied", "You do not have permission to perform this action.")
    at = open_app("integrator", page=PAGE)
    at.text_input[0].input("ACC-8")
    at.text_input[1].input("Cy Moe")
    next(b for b in at.button if b.label == "Create signer").click().run()
    assert not at.exception
    assert "Your role does not allow this." in at.error[0].value


def test_a_flagged_reference_is_shown_and_accepted(open_app, fake_api, png):
    fake_api.on("GET", "signers/", json=shapes.page([SIGNER]))
    refs = [shapes.reference(i, signer=7, external_id="ACC-7") for i in (1, 2, 3)]
    flagged = shapes.reference(
        4, signer=7, external_id="ACC-7", original_name="other.png", status="pending_review", flag=shapes.flag()
    )
    listed = refs + [flagged]
    fake_api.on("GET", "signers/ACC-7/references/", handler=lambda r: fake_api.reply(json=shapes.page(list(listed))))
    for i in (1, 2, 3, 4):
        fake_api.on("GET", f"signers/ACC-7/references/{i}/image/", body=png())

    def accept(request):
        listed[-1] = {**flagged, "status": "active", "flag": None}
        return fake_api.reply(json=listed[-1])

    fake_api.on("POST", "signers/ACC-7/references/4/accept/", handler=accept)
    fake_api.on(
        "POST",
        "signers/ACC-7/references/",
        status=201,
        json=shapes.upload_result([], [], flagged=[flagged]),
    )
    at = open_app("integrator", page=PAGE)
    at.radio(key="enroll_mode").set_value("Existing signer").run()
    at.text_input(key="enroll_query").input("Lind").run()
    at.file_uploader[0].set_value([("other.png", png(), "image/png")]).run()
    next(b for b in at.button if b.label.startswith("Upload 1")).click().run()
    assert not at.exception
    assert "1 image(s) flagged" in at.warning[0].value
    assert list(at.dataframe[0].value["file"]) == ["other.png"]
    assert "Flagged references" in [h.value for h in at.subheader]
    assert "ACC-7 has 3 reference signatures." in at.info[0].value  # the flagged one is not counted

    next(b for b in at.button if b.label == "Accept").click().run()
    assert not at.exception
    assert len(fake_api.received("POST", "signers/ACC-7/references/4/accept/")) == 1
    assert "Flagged references" not in [h.value for h in at.subheader]
    assert "ACC-7 has 4 reference signatures." in at.info[0].value


def test_without_the_change_permission_flagged_references_cannot_be_settled(open_app, fake_api, png):
    fake_api.on("GET", "signers/", json=shapes.page([SIGNER]))
    flagged = shapes.reference(4, signer=7, external_id="ACC-7", status="pending_review", flag=shapes.flag())
    fake_api.on("GET", "signers/ACC-7/references/", json=shapes.page([flagged]))
    fake_api.on("GET", "signers/ACC-7/references/4/image/", body=png())
    enroll_only = [
        "signers.view_signer",
        "signers.add_signer",
        "signers.view_referencesignature",
        "signers.add_referencesignature",
    ]
    at = open_app("integrator", page=PAGE, permissions=enroll_only)
    at.radio(key="enroll_mode").set_value("Existing signer").run()
    at.text_input(key="enroll_query").input("Lind").run()
    assert not at.exception
    settle = [b for b in at.button if b.label in ("Accept", "Reject")]
    assert len(settle) == 2 and all(b.disabled for b in settle)
