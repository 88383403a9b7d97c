"""AppTests of the Models page against the fake API."""

import pytest

PAGE = "app_pages/models.py"
EMPTY = {"count": 0, "next": None, "previous": None, "results": []}

ACTIVE = {"id": 1, "name": "sigverify-resnet18 v1", "sha256": "ab" * 32, "is_active": True,
          "thresholds": {"eer": 0.5, "accept": 0.7, "reject": 0.35}, "input_size": [128, 192],
          "metrics": {"validation": {"R5": {"skilled": {"eer": 0.12, "auc": 0.94},
                                            "at_threshold": {"frr": 0.1, "far_skilled": 0.13, "far_random": 0.01}}}},
          "card": {"data": {"datasets": ["organized_data/cedar"]},
                   "recipe": {"history": [{"epoch": 1, "loss": 0.5, "val_eer": 0.2},
                                          {"epoch": 2, "loss": 0.3, "val_eer": 0.15}]}},
          "created_at": "2026-11-21T10:00:00Z"}
CANDIDATE = {"id": 2, "name": "sigverify-resnet18 v2", "sha256": "cd" * 32, "is_active": False,
             "thresholds": {"eer": 0.5, "accept": 0.72, "reject": 0.3}, "input_size": [128, 192],
             "metrics": {"test": {"roc": {"fpr": [0, 0.1, 1], "tpr": [0, 0.8, 1]}, "skilled": {"eer": 0.1}}},
             "card": {}, "created_at": "2026-11-22T00:30:00Z"}
RUNNING_JOB = {"id": 5, "status": "running", "requested_by": "mo", "datasets": ["cedar"], "epochs": 10,
               "loss": "triplet-semihard", "progress": {"epoch": 3, "epochs": 10, "loss": 0.42, "val_eer": 0.18,
                                                         "images_per_s": 55.5,
                                                         "heartbeat_at": "2026-11-22T01:00:05Z"},
               "cancel_requested": False, "model_version": None, "error": ""}
DONE_JOB = {"id": 4, "status": "succeeded", "requested_by": "mo", "epochs": 2, "loss": "contrastive",
            "progress": {"epoch": 2, "epochs": 2, "loss": 0.2, "val_eer": 0.2}, "model_version":
            {"id": 2, "name": "sigverify-resnet18 v2", "is_active": False}, "error": "",
            "finished_at": "2026-11-22T00:30:00Z"}


@pytest.fixture
def api(fake_api):
    fake_api.on("GET", "model-versions/", json={"count": 2, "next": None, "previous": None,
                                                "results": [CANDIDATE, ACTIVE]})
    fake_api.on("GET", "promotions/", json=EMPTY)
    def jobs(request):
        rows = [job for job in (RUNNING_JOB, DONE_JOB) if request.query.get("status") in (None, job["status"])]
        return fake_api.reply(json={"count": len(rows), "next": None, "previous": None, "results": rows})

    fake_api.on("GET", "training-jobs/", handler=jobs)
    return fake_api


def test_versions_with_metrics_and_roc(open_app, api):
    at = open_app("ml_staff", page=PAGE)
    assert not at.exception
    versions = at.dataframe[0].value
    assert list(versions["name"]) == ["sigverify-resnet18 v2", "sigverify-resnet18 v1"]
    assert list(versions["active"]) == ["", "● active"]
    assert list(versions["EER (skilled)"]) == [0.1, 0.12]
    assert [e.label for e in at.expander] == ["sigverify-resnet18 v2 (#2)", "sigverify-resnet18 v1 (#1) · active",
                                              "Start a training job"]
    metric_names = [m for frame in at.dataframe[1:] if "metric" in frame.value for m in frame.value["metric"]]
    assert "validation.R5.skilled.eer" in metric_names
    # ROC for both (a curve for v2, operating points for v1) and v1's training history.
    plots = [image for image in at.image if image.captions == [""]]
    assert len(plots) == 3
    assert [b.label for b in at.button if b.label.startswith("Promote")] == ["Promote this version…"]


def test_running_job_shows_live_progress(open_app, api):
    at = open_app("ml_staff", page=PAGE)
    queries = [r.query for r in api.received("GET", "training-jobs/")]
    assert {"status": "running"} in queries and {"status": "queued"} in queries
    bars = {p.text: p.value for p in at.progress}
    assert bars == {"epoch 3 of 10": 30}
    figures = {m.label: m.value for m in at.metric}
    assert figures == {"training loss": "0.420", "validation EER": "0.180", "images / s": "55.5",
                       "last heartbeat": "01:00:05"}
    finished = at.dataframe[-1].value
    assert list(finished["id"]) == [4] and list(finished["model version"]) == ["sigverify-resnet18 v2"]


def test_cancel_a_running_job(open_app, api):
    api.on("POST", "training-jobs/5/cancel/", status=202, json=dict(RUNNING_JOB, cancel_requested=True))
    at = open_app("ml_staff", page=PAGE)
    at.button(key="cancel_5").click().run()
    assert not at.exception
    assert len(api.received("POST", "training-jobs/5/cancel/")) == 1


def test_start_a_training_job(open_app, api):
    api.on("POST", "training-jobs/", status=202, json={"id": 6, "status": "queued"})
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
    assert sent == {"datasets": ["cedar", "gpds"], "include_references": True, "include_reviewed": True,
                    "epochs": 3, "loss": "contrastive", "seed": 7,
                    "options": {"lr": 0.001, "input_size": [128, 192], "embedding_dim": 256, "patience": 6}}
    assert "Training job #6 is queued." in at.success[0].value


def test_training_refused_by_api_shows_why(open_app, api):
    api.error("POST", "training-jobs/", 503, "broker_unavailable", "The task queue is unreachable; try again later.")
    at = open_app("ml_staff", page=PAGE)
    at.text_input[0].input("cedar")
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception
    assert "Training not started: The task queue is unreachable; try again later." in [e.value for e in at.error]


def test_promotion_needs_confirmation_then_shows_reembedding_progress(open_app, api):
    promotion = {"id": 3, "status": "running", "model_version": {"id": 2, "name": "sigverify-resnet18 v2"},
                 "total": 40, "done": 10, "error": ""}
    api.on("POST", "model-versions/2/promote/", status=202, json=dict(promotion, status="queued", done=0))
    at = open_app("ml_staff", page=PAGE)
    at.button(key="promote_2").click().run()
    assert not at.exception
    assert api.received("POST", "model-versions/2/promote/") == []  # nothing happens before confirming
    assert any("Promote sigverify-resnet18 v2?" in m.value for m in at.markdown)

    at.button(key="promote_cancel").click().run()
    assert not any("Promote sigverify-resnet18 v2?" in m.value for m in at.markdown)

    at.button(key="promote_2").click().run()
    api.on("GET", "promotions/", handler=lambda r: api.reply(json={
        "count": 1, "next": None, "previous": None,
        "results": [promotion] if r.query.get("status") == "running" else []}))
    at.button(key="promote_confirm").click().run()
    assert not at.exception
    assert len(api.received("POST", "model-versions/2/promote/")) == 1
    bars = {p.text: p.value for p in at.progress}
    assert bars["Promoting sigverify-resnet18 v2: re-embedded 10 of 40 references (running)"] == 25


def test_finished_and_failed_promotions(open_app, api):
    api.on("GET", "promotions/3/", json={"id": 3, "status": "failed", "model_version": {"id": 2, "name": "v2"},
                                         "total": 40, "done": 12, "error": "worker lost"})
    at = open_app("ml_staff", page=PAGE)
    at.session_state["promotion"] = {"id": 3, "status": "queued"}
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
