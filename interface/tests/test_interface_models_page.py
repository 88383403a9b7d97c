"""AppTests of the Models page against the fake API."""

import pytest
import shapes

PAGE = "app_pages/models.py"
EMPTY = shapes.page([])
AT = {"frr": 0.1, "far_skilled": 0.13, "far_random": 0.01}

ACTIVE = shapes.model_version(
    1,
    "sigverify-resnet18 v1",
    is_active=True,
    card_=shapes.card(
        validation={"R5": shapes.evaluation(5, 20, 0.12, AT)},
        held_out={
            "cedar_R5": shapes.evaluation(5, 10, 0.16, AT),
            "gpds_R5": shapes.evaluation(5, 30, 0.123, AT),
            "cedar_R1": shapes.evaluation(1, 10, 0.23),
        },
        recipe={"history": [{"epoch": 1, "loss": 0.5, "val_eer": 0.2}, {"epoch": 2, "loss": 0.3, "val_eer": 0.15}]},
    ),
)
# A candidate whose validation EER (0.08) looks better than its held-out test EER (0.1): the headline is the test.
CANDIDATE = shapes.model_version(
    2,
    "sigverify-resnet18 v2",
    card_=shapes.card(
        validation={"R5": shapes.evaluation(5, 20, 0.08)},
        held_out={"cedar_R5": shapes.evaluation(5, 10, 0.1, AT)},
        thresholds={"eer": 0.5, "accept": 0.72, "reject": 0.3},
    ),
    created_at="2026-11-22T00:30:00Z",
)
RUNNING_JOB = shapes.training_job(
    5, "running", progress_=shapes.progress(3, 10, 0.42, 0.18, 55.5, "2026-11-22T01:00:05Z")
)
DONE_JOB = shapes.training_job(
    4,
    "succeeded",
    epochs=2,
    loss="contrastive",
    progress_=shapes.progress(2, 2, 0.2, 0.2),
    model_version=shapes.brief(2, "sigverify-resnet18 v2"),
    finished_at="2026-11-22T00:30:00Z",
)


@pytest.fixture
def api(fake_api):
    fake_api.on("GET", "model-versions/", json=shapes.page([CANDIDATE, ACTIVE]))
    fake_api.on("GET", "promotions/", json=EMPTY)

    def jobs(request):
        rows = [job for job in (RUNNING_JOB, DONE_JOB) if request.query.get("status") in (None, job["status"])]
        return fake_api.reply(json=shapes.page(rows))

    fake_api.on("GET", "training-jobs/", handler=jobs)
    # v2 was published with validation scores, v1 (like the model shipped before them) without.
    fake_api.on("GET", "model-versions/2/policy/", json=shapes.policy_state(2))
    fake_api.on("GET", "model-versions/1/policy/", json=shapes.policy_state(1, scores=False))
    return fake_api


def test_versions_with_metrics_and_roc(open_app, api):
    at = open_app("ml_staff", page=PAGE)
    assert not at.exception
    versions = at.dataframe[0].value
    assert list(versions["name"]) == ["sigverify-resnet18 v2", "sigverify-resnet18 v1"]
    assert list(versions["active"]) == ["", "● active"]
    # The headline is the held-out test writers' skilled EER at R=5 per dataset, never the validation one.
    assert list(versions["test EER cedar"]) == [0.1, 0.16]
    assert list(versions["test EER gpds"])[1] == 0.123 and versions["test EER gpds"].isna()[0]
    assert list(versions["accept at"]) == [0.72, 0.7]
    assert [e.label for e in at.expander] == [
        "sigverify-resnet18 v2 (#2)",
        "sigverify-resnet18 v1 (#1) · active",
        "Start a training job",
    ]
    metrics = [frame.value for frame in at.dataframe[1:] if "split" in frame.value]
    v1 = metrics[1]
    assert list(zip(v1["split"], v1["dataset"], v1["R"], v1["skilled EER"], strict=True)) == [
        ("test (held-out writers)", "cedar", 1, 0.23),
        ("test (held-out writers)", "cedar", 5, 0.16),
        ("test (held-out writers)", "gpds", 5, 0.123),
        ("validation (chose the model)", "all, pooled", 5, 0.12),
    ]
    # Operating points for both versions, v1's training history and v2's policy trade-off.
    plots = [image for image in at.image if image.captions == [""]]
    assert len(plots) == 4
    assert [b.label for b in at.button if b.label.startswith("Promote")] == ["Promote this version…"]


def test_running_job_shows_live_progress(open_app, api):
    at = open_app("ml_staff", page=PAGE)
    queries = [r.query for r in api.received("GET", "training-jobs/")]
    assert {"status": "running"} in queries and {"status": "queued"} in queries
    bars = {p.text: p.value for p in at.progress}
    assert bars == {"epoch 3 of 10": 30}
    job_figures = ("training loss", "validation EER", "images / s", "last heartbeat")
    figures = {m.label: m.value for m in at.metric if m.label in job_figures}
    assert figures == {
        "training loss": "0.420",
        "validation EER": "0.180",
        "images / s": "55.5",
        "last heartbeat": "01:00:05",
    }
    finished = at.dataframe[-1].value
    assert list(finished["id"]) == [4] and list(finished["model version"]) == ["sigverify-resnet18 v2"]


def test_cancel_a_running_job(open_app, api):
    api.on("POST", "training-jobs/5/cancel/", status=202, json=dict(RUNNING_JOB, cancel_requested=True))
    at = open_app("ml_staff", page=PAGE)
    at.button(key="cancel_5").click().run()
    assert not at.exception
    assert len(api.received("POST", "training-jobs/5/cancel/")) == 1


def test_start_a_training_job(open_app, api):
    api.on("POST", "training-jobs/", status=202, json=shapes.training_job(6))
    at = open_app("ml_staff", page=PAGE)
    form = {t.label: t for t in at.text_input}
    form["Datasets in organized_data/ (comma separated)"].input("cedar, gpds")
    numbers = {n.label: n for n in at.number_input}
    numbers["Epochs"].set_value(3)
    numbers["Seed"].set_value(7)
    at.selectbox[0].set_value("contrastive")
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception
    sent = api.received("POST", "training-jobs/")[0].json
    assert sent == {
        "datasets": ["cedar", "gpds"],
        "include_references": True,
        "include_reviewed": True,
        "epochs": 3,
        "loss": "contrastive",
        "seed": 7,
        "options": {"lr": 0.001, "input_size": [128, 192], "embedding_dim": 256, "patience": 6},
    }
    assert "Training job #6 is queued." in at.success[0].value


def test_training_refused_by_api_shows_why(open_app, api):
    api.error("POST", "training-jobs/", 503, "broker_unavailable", "The task queue is unreachable; try again later.")
    at = open_app("ml_staff", page=PAGE)
    at.text_input[0].input("cedar")
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception
    assert "Training not started: The task queue is unreachable; try again later." in [e.value for e in at.error]


def test_promotion_needs_confirmation_then_shows_reembedding_progress(open_app, api):
    promotion = shapes.promotion(3, "running", shapes.brief(2, "sigverify-resnet18 v2"), total=40, done=10)
    api.on("POST", "model-versions/2/promote/", status=202, json=dict(promotion, status="queued", done=0))
    at = open_app("ml_staff", page=PAGE)
    at.button(key="promote_2").click().run()
    assert not at.exception
    assert api.received("POST", "model-versions/2/promote/") == []  # nothing happens before confirming
    assert any("Promote sigverify-resnet18 v2?" in m.value for m in at.markdown)

    at.button(key="promote_cancel").click().run()
    assert not any("Promote sigverify-resnet18 v2?" in m.value for m in at.markdown)

    at.button(key="promote_2").click().run()
    api.on(
        "GET",
        "promotions/",
        handler=lambda r: api.reply(json=shapes.page([promotion] if r.query.get("status") == "running" else [])),
    )
    at.button(key="promote_confirm").click().run()
    assert not at.exception
    assert len(api.received("POST", "model-versions/2/promote/")) == 1
    bars = {p.text: p.value for p in at.progress}
    assert bars["Promoting sigverify-resnet18 v2: re-embedded 10 of 40 references (running)"] == 25


def test_finished_and_failed_promotions(open_app, api):
    api.on(
        "GET",
        "promotions/3/",
        json=shapes.promotion(3, "failed", shapes.brief(2, "v2"), total=40, done=12, error="worker lost"),
    )
    at = open_app("ml_staff", page=PAGE)
    at.session_state["promotion"] = 3
    at.run()
    assert not at.exception
    assert "Promotion of v2 failed: worker lost. The previous model is still active." in [e.value for e in at.error]


def test_promotion_conflict_is_explained(open_app, api):
    api.error("POST", "model-versions/2/promote/", 409, "promotion_running", "Another promotion is running.")
    at = open_app("admin", page=PAGE)
    at.button(key="promote_2").click().run()
    at.button(key="promote_confirm").click().run()
    assert not at.exception
    assert "Promotion not started: Another promotion is running." in [e.value for e in at.error]


def test_what_the_page_offers_follows_the_permissions(open_app, api):
    """Reading versions needs view_modelversion; promoting, training and cancelling each need their own."""
    at = open_app(permissions=["modelregistry.view_modelversion"], page=PAGE)
    assert not at.exception
    assert list(at.dataframe[0].value["name"]) == ["sigverify-resnet18 v2", "sigverify-resnet18 v1"]
    assert not [b for b in at.button if b.label.startswith("Promote")]
    assert "Training jobs" not in [h.value for h in at.subheader]
    assert api.received("GET", "training-jobs/") == [] and api.received("GET", "promotions/") == []

    viewer = ["modelregistry.view_modelversion", "training.view_trainingjob"]
    at = open_app(permissions=viewer, page=PAGE)
    assert "Training jobs" in [h.value for h in at.subheader]
    assert not [b for b in at.button if b.label in ("Cancel", "Start training")]
    assert "Start a training job" not in [e.label for e in at.expander]


# -- the operating policy ---------------------------------------------------------------------


def test_policy_figures_and_trade_off_plot_on_test_writers(open_app, api):
    at = open_app("ml_staff", page=PAGE)
    assert not at.exception
    current = shapes.policy_preview()["test"]
    figures = {m.label: m.value for m in at.metric}
    assert figures["forgeries accepted (test writers)"] == f"{100 * current['forgeries_accepted']:.1f}%"
    assert figures["referred (test writers)"] == f"{100 * current['referred']:.1f}%"
    assert figures["genuine rejected (test writers)"] == f"{100 * current['genuine_rejected']:.1f}%"
    # The active version's headline: held-out test figures per dataset.
    assert figures["test EER cedar"] == "16.0%" and figures["test EER gpds"] == "12.3%"
    assert any("At most **1.0%** of skilled forgeries accepted" in m.value for m in at.markdown)
    # v1 has no validation scores: its card's thresholds, said plainly, and no policy form.
    assert any("The thresholds are the model card's." in i.value and "no scores.json" in i.value for i in at.info)
    assert [n.label for n in at.number_input if n.key and n.key.startswith("policy_")] == [
        "Skilled forgeries accepted at most (%)",
        "Genuine signatures rejected at most (%)",
    ]


def test_policy_figure_marks_the_current_policy():
    import model_policy
    from api_models import PolicyState

    state = PolicyState.model_validate(shapes.policy_state(2, far_skilled=0.005))
    figure = model_policy.policy_figure(state.sweep, state.preview)
    axes = figure.axes[0]
    curve, current = axes.lines
    assert len(curve.get_xdata()) == len(state.sweep)
    assert list(current.get_xdata()) == [100 * state.preview.test.forgeries_accepted]
    assert list(current.get_ydata()) == [100 * state.preview.test.referred]
    assert "current policy (0.5% / 1.0%)" in [t.get_text() for t in axes.get_legend().get_texts()]
    assert axes.get_xlabel() == "skilled forgeries accepted, test writers (%)"
    assert axes.get_ylabel() == "referred to a human (%)"


def test_preview_then_apply_a_policy_with_a_reason(open_app, api):
    def preview(request):
        return api.reply(json=shapes.policy_preview(float(request.query["far_skilled"]), float(request.query["frr"])))

    api.on("GET", "model-versions/2/policy/preview/", handler=preview)
    api.on(
        "PUT",
        "model-versions/2/policy/",
        json=shapes.policy_state(2, far_skilled=0.005, changes=[shapes.policy_change(reason="fraud wave in region 4")]),
    )
    at = open_app("ml_staff", page=PAGE)
    at.number_input(key="policy_far_2").set_value(0.5).run()
    at.button(key="policy_preview_button_2").click().run()
    assert not at.exception
    assert api.received("GET", "model-versions/2/policy/preview/")[-1].query == {"far_skilled": "0.005", "frr": "0.01"}
    strict = shapes.policy_preview(0.005)["test"]
    sentence = next(i.value for i in at.info if i.value.startswith("At 0.5% forgeries accepted"))
    assert f"**{100 * strict['referred']:.1f}% referred**" in sentence
    assert f"{100 * strict['genuine_rejected']:.1f}% genuine rejected" in sentence
    per_dataset = next(f.value for f in at.dataframe if "test writers" in f.value)
    assert list(per_dataset["test writers"]) == ["cedar", "gpds", "all test writers"]
    assert api.received("PUT", "model-versions/2/policy/") == []  # a preview changes nothing

    at.button(key="policy_apply_2").click().run()  # no reason yet
    assert "Give a reason: every policy change is audited." in [e.value for e in at.error]
    assert api.received("PUT", "model-versions/2/policy/") == []

    at.text_area(key="policy_reason_2").input("fraud wave in region 4").run()
    at.button(key="policy_apply_2").click().run()
    assert not at.exception
    assert api.received("PUT", "model-versions/2/policy/")[0].json == {
        "far_skilled": 0.005,
        "frr": 0.01,
        "reason": "fraud wave in region 4",
    }
    assert any("set to 0.5% forgeries accepted and 1.0% genuine rejected" in s.value for s in at.success)


def test_targets_changed_after_the_preview_must_be_previewed_again(open_app, api):
    api.on("GET", "model-versions/2/policy/preview/", json=shapes.policy_preview(0.005))
    at = open_app("ml_staff", page=PAGE)
    at.number_input(key="policy_far_2").set_value(0.5).run()
    at.button(key="policy_preview_button_2").click().run()
    at.number_input(key="policy_far_2").set_value(2.0).run()
    assert any("preview them again" in w.value for w in at.warning)
    assert not [b for b in at.button if b.key == "policy_apply_2"]


def test_a_refused_policy_change_shows_the_field_errors(open_app, api):
    api.on("GET", "model-versions/2/policy/preview/", json=shapes.policy_preview(0.005))
    api.error(
        "PUT",
        "model-versions/2/policy/",
        409,
        "no_validation_scores",
        "The validation scores of model version v2 cannot be used.",
    )
    at = open_app("admin", page=PAGE)
    at.number_input(key="policy_far_2").set_value(0.5).run()
    at.button(key="policy_preview_button_2").click().run()
    at.text_area(key="policy_reason_2").input("tighter").run()
    at.button(key="policy_apply_2").click().run()
    assert not at.exception
    assert any("Policy not changed" in e.value and "cannot be used" in e.value for e in at.error)


def test_only_those_who_may_change_the_policy_get_the_form(open_app, api):
    # The page follows the permission, not the role: an ML staff member without it sees figures only.
    permissions = [p for p in shapes.permissions_of("ml_staff") if p != "modelregistry.change_operating_policy"]
    at = open_app("ml_staff", page=PAGE, permissions=permissions)
    assert not at.exception
    assert "referred (test writers)" in [m.label for m in at.metric]
    assert not [n for n in at.number_input if n.key and n.key.startswith("policy_")]
    assert "Only ML staff and administrators may change the policy." in [c.value for c in at.caption]
