"""The one lifecycle of background runs (``apps.core.jobs``): every kind is registered, one beat
task sweeps them all, and a worker starting again recovers what its earlier process left."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.clearing.models import ClearingFile
from apps.core import jobs
from apps.modelregistry.models import Promotion
from apps.training.models import TrainingJob
from apps.verifications.models import VerificationBatch


def test_every_kind_of_run_is_registered_with_its_task_and_queue():
    kinds = {kind.model: kind for kind in jobs.run_kinds()}
    assert set(kinds) >= {TrainingJob, Promotion, VerificationBatch, ClearingFile}
    assert kinds[TrainingJob].queue_setting == "SIGVERIFY_GPU_QUEUE"
    assert kinds[VerificationBatch].task.name == "apps.verifications.tasks.run_verification_batch"
    for kind in kinds.values():
        assert issubclass(kind.model, jobs.Run) and kind.model.STALE_ENDS
        assert set(kind.model.STALE_ENDS) <= set(kind.model.Status.values)


def test_beat_runs_the_one_sweep():
    from config.celery import app

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert tasks == {"apps.core.tasks.sweep_runs"}
    app.loader.import_default_modules()  # the apps' tasks modules, as a worker imports them
    assert set(app.tasks) >= tasks  # the names are registered tasks
    assert all(0 < entry["schedule"] <= 60 for entry in app.conf.beat_schedule.values())


@pytest.mark.django_db
def test_one_staleness_rule_a_heartbeat_or_the_start_when_none_came(settings):
    settings.SIGVERIFY_STALE_AFTER_S = 60
    now = timezone.now()
    old, fresh = now - timedelta(seconds=61), now - timedelta(seconds=5)
    rows = {
        "silent": dict(status="running", started_at=old, heartbeat_at=old),
        "never_beat": dict(status="running", started_at=old, heartbeat_at=None),
        "alive": dict(status="running", started_at=old, heartbeat_at=fresh),
        "queued": dict(status="queued"),
    }
    for model in (TrainingJob, VerificationBatch):
        extra = {"epochs": 1, "loss": "contrastive"} if model is TrainingJob else {"total": 1}
        made = {name: model.objects.create(**fields, **extra) for name, fields in rows.items()}
        stale = set(model.objects.filter(jobs.stale_running(model, now)).values_list("pk", flat=True))
        assert stale == {made["silent"].pk, made["never_beat"].pk}, model


@pytest.mark.django_db
def test_a_worker_starting_again_recovers_the_runs_of_its_earlier_process(monkeypatch):
    from apps.core import tasks
    from apps.core.tasks import sweep_runs_at_worker_start

    now = timezone.now()
    job = TrainingJob.objects.create(
        status="running", started_at=now, heartbeat_at=now, worker="w1@host", epochs=1, loss="contrastive"
    )
    batch = VerificationBatch.objects.create(
        status="running", started_at=now, heartbeat_at=now, worker="w1@host", total=1
    )
    sent = []
    monkeypatch.setattr(jobs, "enqueue", lambda model, pk: sent.append((model, pk)))
    monkeypatch.setattr(tasks.connections, "close_all", lambda: None)  # keep the test's own connection

    class Sender:
        hostname = "w2@host"

    sweep_runs_at_worker_start(sender=Sender())
    assert TrainingJob.objects.get(pk=job.pk).status == "running" and not sent  # another worker: both still alive

    Sender.hostname = "w1@host"
    sweep_runs_at_worker_start(sender=Sender())
    assert TrainingJob.objects.get(pk=job.pk).status == "failed"  # a job cannot resume: it ends
    batch.refresh_from_db()
    assert batch.status == "queued" and batch.task_id == "" and sent == [(VerificationBatch, batch.pk)]
