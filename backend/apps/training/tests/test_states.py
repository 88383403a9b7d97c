"""State transitions of training jobs: who may move a row where, and when."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core import jobs
from apps.core.exceptions import Conflict
from apps.training import runs, services
from apps.training.models import TrainingJob

S = TrainingJob.Status


def make_job(status=S.QUEUED, **fields):
    return TrainingJob.objects.create(epochs=1, loss="triplet-semihard", status=status, **fields)


@pytest.mark.django_db
@pytest.mark.parametrize("source", list(S))
@pytest.mark.parametrize("target", [S.RUNNING, S.SUCCEEDED, S.FAILED, S.CANCELLED])
def test_job_transition_only_from_allowed_statuses(source, target):
    job = make_job(source)
    moved = jobs.transition(TrainingJob, job.pk, target)
    job.refresh_from_db()
    allowed = {
        S.RUNNING: {S.QUEUED},
        S.SUCCEEDED: {S.RUNNING},
        S.FAILED: {S.QUEUED, S.RUNNING},
        S.CANCELLED: {S.QUEUED, S.RUNNING},
    }[target]
    assert moved is (source in allowed)
    assert job.status == (target if source in allowed else source)


@pytest.mark.django_db
def test_terminal_jobs_never_move_again():
    for status in TrainingJob.TERMINAL:
        job = make_job(status)
        for target in TrainingJob.TRANSITIONS:
            assert not jobs.transition(TrainingJob, job.pk, target)


@pytest.mark.django_db
def test_cancel_queued_job_ends_it_at_once():
    job = services.training_job_cancel(make_job())
    assert job.status == S.CANCELLED
    assert job.finished_at is not None


@pytest.mark.django_db
def test_cancel_running_job_asks_the_worker_to_stop():
    job = services.training_job_cancel(make_job(S.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now()))
    assert job.status == S.RUNNING
    assert job.cancel_requested


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.SUCCEEDED, S.FAILED, S.CANCELLED])
def test_cancel_finished_job_is_a_conflict(status):
    with pytest.raises(Conflict):
        services.training_job_cancel(make_job(status))


@pytest.mark.django_db
def test_run_skips_a_job_that_is_not_queued(monkeypatch):
    import sigverify.train

    def must_not_train(*args, **kwargs):
        raise AssertionError("train() called for a cancelled job")

    monkeypatch.setattr(sigverify.train, "train", must_not_train)
    job = make_job(S.CANCELLED)
    assert runs.run_training_job(job.pk).startswith("skipped")
    job.refresh_from_db()
    assert job.status == S.CANCELLED and job.started_at is None


@pytest.mark.django_db
def test_stale_heartbeat_fails_running_jobs(settings):
    settings.SIGVERIFY_STALE_AFTER_S = 60
    now = timezone.now()
    old, fresh = now - timedelta(seconds=61), now - timedelta(seconds=5)
    dead = make_job(S.RUNNING, started_at=old, heartbeat_at=old)
    alive = make_job(S.RUNNING, started_at=old, heartbeat_at=fresh)
    dead_cancelling = make_job(S.RUNNING, started_at=old, heartbeat_at=old, cancel_requested=True)
    waiting = make_job(S.QUEUED)
    TrainingJob.objects.filter(pk=waiting.pk).update(created_at=now - timedelta(days=1))

    assert len(jobs.end_stale(TrainingJob, now)) == 2

    for job in (dead, alive, dead_cancelling, waiting):
        job.refresh_from_db()
    assert dead.status == S.FAILED and "heartbeat" in dead.error and dead.finished_at
    assert alive.status == S.RUNNING
    assert dead_cancelling.status == S.CANCELLED
    assert waiting.status == S.QUEUED
    assert jobs.end_stale(TrainingJob, now) == []


@pytest.mark.django_db
def test_reading_jobs_shows_the_stale_ones_ended_and_writes_nothing(settings, client_for):
    from apps.training import selectors

    settings.SIGVERIFY_STALE_AFTER_S = 30
    long_ago = timezone.now() - timedelta(minutes=5)
    job = make_job(S.RUNNING, started_at=long_ago, heartbeat_at=long_ago)
    cancelling = make_job(S.RUNNING, started_at=long_ago, heartbeat_at=long_ago, cancel_requested=True)
    assert selectors.training_job_get(job.pk).as_seen().status == S.FAILED
    client = client_for("ml_staff")
    seen = client.get(f"/api/v1/training-jobs/{job.pk}/").json()
    assert seen["status"] == "failed" and "heartbeat" in seen["error"] and seen["finished_at"]
    assert client.get(f"/api/v1/training-jobs/{cancelling.pk}/").json()["status"] == "cancelled"
    assert {j["id"] for j in client.get("/api/v1/training-jobs/", {"status": "failed"}).json()["results"]} == {job.pk}
    assert {j["id"] for j in client.get("/api/v1/training-jobs/", {"status": "cancelled"}).json()["results"]} == {
        cancelling.pk
    }
    assert client.get("/api/v1/training-jobs/", {"status": "running"}).json()["count"] == 0
    job.refresh_from_db()
    assert job.status == S.RUNNING and job.finished_at is None  # the read wrote nothing; the beat sweep will


@pytest.mark.django_db
def test_cancelling_a_job_whose_worker_died_is_a_conflict(settings):
    settings.SIGVERIFY_STALE_AFTER_S = 30
    long_ago = timezone.now() - timedelta(minutes=5)
    job = make_job(S.RUNNING, started_at=long_ago, heartbeat_at=long_ago)
    with pytest.raises(Conflict):
        services.training_job_cancel(job)
    job.refresh_from_db()
    assert job.status == S.FAILED


@pytest.mark.django_db
def test_the_stale_sweep_task_ends_the_jobs(settings):
    from apps.core.tasks import sweep_runs

    settings.SIGVERIFY_STALE_AFTER_S = 30
    long_ago = timezone.now() - timedelta(minutes=5)
    job = make_job(S.RUNNING, started_at=long_ago, heartbeat_at=long_ago)
    assert sweep_runs.apply().get() == 1
    job.refresh_from_db()
    assert job.status == S.FAILED


@pytest.mark.django_db
def test_sweep_runs_command(settings, capsys):
    from django.core.management import call_command

    settings.SIGVERIFY_STALE_AFTER_S = 30
    long_ago = timezone.now() - timedelta(minutes=5)
    job = make_job(S.RUNNING, started_at=long_ago, heartbeat_at=long_ago)
    call_command("sweep_runs")
    job.refresh_from_db()
    assert job.status == S.FAILED
    assert "1 training job(s)" in capsys.readouterr().out


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.FAILED, S.CANCELLED])
def test_result_of_a_job_ended_meanwhile_is_not_registered(status, tmp_path):
    """A worker that finishes after its job was failed as stale (or cancelled) registers nothing."""
    from types import SimpleNamespace

    from apps.modelregistry.models import ModelVersion

    from .factories import make_model_dir

    job = make_job(status)
    before = ModelVersion.objects.count()
    result = SimpleNamespace(model_dir=make_model_dir(tmp_path / "model"))
    assert runs.register_result(job.pk, result, []).startswith("not registered")
    job.refresh_from_db()
    assert job.status == status and job.model_version is None
    assert ModelVersion.objects.count() == before


@pytest.mark.django_db
def test_cancel_requested_at_the_end_registers_nothing(tmp_path):
    from types import SimpleNamespace

    from apps.modelregistry.models import ModelVersion

    from .factories import make_model_dir

    job = make_job(S.RUNNING, cancel_requested=True)
    before = ModelVersion.objects.count()
    runs.register_result(job.pk, SimpleNamespace(model_dir=make_model_dir(tmp_path / "model")), [])
    job.refresh_from_db()
    assert job.status == S.CANCELLED
    assert ModelVersion.objects.count() == before


@pytest.mark.django_db
def test_a_result_whose_card_holds_nan_registers(tmp_path):
    """Training histories can hold NaN (e.g. random-forgery EER with one validation writer);
    PostgreSQL's jsonb refuses NaN, so the registry stores it as null."""
    import json
    from types import SimpleNamespace

    from .factories import make_model_dir

    model_dir = make_model_dir(tmp_path / "model", seed=4242)  # weights no other test registered
    card_path = model_dir / "model_card.json"
    card = json.loads(card_path.read_text())
    card["recipe"] = {"history": [{"epoch": 1, "val_eer_random": float("nan")}]}
    card_path.write_text(json.dumps(card))  # allow_nan: what the trainer writes
    job = make_job(S.RUNNING)
    assert runs.register_result(job.pk, SimpleNamespace(model_dir=model_dir), []) == "succeeded"
    job.refresh_from_db()
    assert job.model_version.card["recipe"]["history"][0]["val_eer_random"] is None
    assert not job.model_version.is_active
