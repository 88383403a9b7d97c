"""The training-jobs API: contract, validation, permissions, broker down."""

import pytest
from kombu.exceptions import OperationalError

from apps.training import tasks
from apps.training.models import TrainingJob

from .factories import TINY_TRAIN_OPTIONS

ROLES = ("clerk", "integrator", "ml_staff", "admin")


def job_request(**changes):
    body = {"datasets": ["tiny"], "epochs": 1, "loss": "triplet-semihard", "seed": 3, "options": TINY_TRAIN_OPTIONS}
    body.update(changes)
    return body


@pytest.mark.django_db
def test_create_answers_202_with_the_queued_job_and_enqueues_on_commit(
    client_for, tiny_dataset, django_capture_on_commit_callbacks
):
    client = client_for("ml_staff")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/api/v1/training-jobs/", job_request(), format="json")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "queued"
    assert body["datasets"] == ["tiny"] and body["epochs"] == 1 and body["seed"] == 3
    assert body["include_references"] is True and body["include_reviewed"] is True
    assert body["options"]["input_size"] == [32, 48]
    assert body["progress"] == {
        "epoch": 0,
        "epochs": 1,
        "loss": None,
        "val_eer": None,
        "images_per_s": None,
        "heartbeat_at": None,
    }
    assert body["requested_by"] == client.user.username
    assert body["model_version"] is None
    assert len(callbacks) == 1  # the task is sent only once the job row is committed
    assert TrainingJob.objects.get(pk=body["id"]).requested_by == client.user


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes, field",
    [
        ({"datasets": ["missing"]}, "datasets"),
        ({"datasets": ["../etc"]}, "datasets"),
        ({"datasets": [], "include_references": False, "include_reviewed": False}, "datasets"),
        ({"loss": "hinge"}, "loss"),
        ({"epochs": 0}, "epochs"),
        ({"options": {"learning_rate": 0.1}}, "options"),
        ({"options": {"lr": "fast"}}, "options"),
        ({"options": {"input_size": [32]}}, "options"),
        ({"options": {"out_dir": "/tmp/x"}}, "options"),
        ({"options": {"precision": "fp8"}}, "options"),
    ],
)
def test_create_validation_errors(client_for, tiny_dataset, changes, field):
    response = client_for("ml_staff").post("/api/v1/training-jobs/", job_request(**changes), format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["fields"]
    assert not TrainingJob.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_broker_down_answers_503_and_leaves_no_job_queued(client_for, tiny_dataset, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.run_training_job, "apply_async", refuse)
    response = client_for("ml_staff").post("/api/v1/training-jobs/", job_request(), format="json")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "broker_unavailable"
    assert "task queue is not reachable" in error["message"]
    job = TrainingJob.objects.get()
    assert job.status == "failed" and "unreachable" in job.error
    assert not TrainingJob.objects.filter(status="queued").exists()


@pytest.mark.django_db
def test_list_detail_and_cancel(client_for):
    client = client_for("ml_staff")
    job = TrainingJob.objects.create(epochs=2, loss="contrastive")
    listed = client.get("/api/v1/training-jobs/").json()
    assert [j["id"] for j in listed["results"]] == [job.pk]
    assert client.get(f"/api/v1/training-jobs/{job.pk}/").json()["loss"] == "contrastive"
    response = client.post(f"/api/v1/training-jobs/{job.pk}/cancel/")
    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    again = client.post(f"/api/v1/training-jobs/{job.pk}/cancel/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "job_finished"
    assert client.get("/api/v1/training-jobs/", {"status": "cancelled"}).json()["count"] == 1
    assert client.get("/api/v1/training-jobs/999999/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("role", (None, *ROLES))
def test_permission_matrix(role, client_for, anon_client, tiny_dataset, django_capture_on_commit_callbacks):
    client = client_for(role) if role else anon_client
    job = TrainingJob.objects.create(epochs=1, loss="contrastive")
    allowed = role in ("ml_staff", "admin")
    with django_capture_on_commit_callbacks(execute=False):
        answers = {
            "list": client.get("/api/v1/training-jobs/").status_code,
            "retrieve": client.get(f"/api/v1/training-jobs/{job.pk}/").status_code,
            "create": client.post("/api/v1/training-jobs/", job_request(), format="json").status_code,
            "cancel": client.post(f"/api/v1/training-jobs/{job.pk}/cancel/").status_code,
        }
    expected_ok = {"list": 200, "retrieve": 200, "create": 202, "cancel": 202}
    refused = 401 if role is None else 403
    assert answers == (expected_ok if allowed else {k: refused for k in expected_ok})
