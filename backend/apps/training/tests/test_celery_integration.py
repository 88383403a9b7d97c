"""Against a real Redis and real Celery worker processes (``celery -A config worker``).

Runs where REDIS_URL is set (CI); skipped elsewhere, except that in CI (``CI`` set) a missing
or unreachable Redis fails (``testsupport.ci``). The worker is a subprocess sharing the test database, so the
database must be one another process can open (PostgreSQL in CI).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from apps.modelregistry.models import ModelVersion
from apps.signers.models import ReferenceEmbedding, ReferenceSignature
from apps.training.models import TrainingJob
from testsupport.ci import skip_or_fail
from testsupport.servers import (
    CeleryWorker,
    database_url_for_subprocesses,
    reachable_redis_url,
    start_celery_worker,
    wait_for,
    worker_env,
)

from .factories import TINY_TRAIN_OPTIONS, make_dataset

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

HEARTBEAT_S = 0.5
STALE_AFTER_S = 4.0


def redis_available() -> str:
    url = reachable_redis_url()
    from config.celery import app

    assert app.conf.broker_url.startswith("redis"), "settings must use REDIS_URL for the broker when it is set"
    return url


@dataclass
class Worker(CeleryWorker):
    name: str = ""
    gpu_queue: str = ""
    default_queue: str = ""
    organized: Path | None = None
    models_root: Path | None = None


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """One worker process for both queues (queue names unique to this module), shared by the
    tests here so that it starts only once; the last test kills it."""
    import redis

    url = redis_available()
    with django_db_blocker.unblock():
        database_url = database_url_for_subprocesses(skip_or_fail)
    from django.conf import settings

    suffix = uuid.uuid4().hex[:8]
    root = tmp_path_factory.mktemp("celery-worker")
    handle = Worker(
        process=None,
        log_path=root / "worker.log",
        name=f"test-{suffix}@%h",
        gpu_queue=f"test-gpu-{suffix}",
        default_queue=f"test-default-{suffix}",
        organized=root / "organized_data",
        models_root=root / "models",
    )
    handle.organized.mkdir()
    env = worker_env(
        url,
        database_url,
        settings.MEDIA_ROOT,
        SIGVERIFY_ORGANIZED_DATA=str(handle.organized),
        SIGVERIFY_MODELS_ROOT=str(handle.models_root),
        SIGVERIFY_GPU_QUEUE=handle.gpu_queue,
        SIGVERIFY_DEFAULT_QUEUE=handle.default_queue,
        SIGVERIFY_HEARTBEAT_S=str(HEARTBEAT_S),
    )
    handle.process = start_celery_worker(
        env, handle.log_path, queues=f"{handle.gpu_queue},{handle.default_queue}", node=handle.name
    )
    make_dataset(handle.organized, "tiny")
    yield handle
    handle.stop()
    redis.Redis.from_url(url).delete(handle.gpu_queue, handle.default_queue)


@pytest.fixture
def on_worker(worker, settings, transactional_db):
    """This process sends to the worker's queues and reads the same folders it writes."""
    if worker.process.poll() is not None:
        pytest.fail(f"the worker is not running ({worker.process.returncode}):\n{worker.log_tail()}")
    settings.SIGVERIFY_GPU_QUEUE = worker.gpu_queue
    settings.SIGVERIFY_DEFAULT_QUEUE = worker.default_queue
    settings.SIGVERIFY_ORGANIZED_DATA = worker.organized
    settings.SIGVERIFY_MODELS_ROOT = worker.models_root
    settings.SIGVERIFY_STALE_AFTER_S = STALE_AFTER_S
    return worker


def job_request(epochs: int, **changes) -> dict:
    return {
        "datasets": ["tiny"],
        "epochs": epochs,
        "loss": "triplet-semihard",
        "options": TINY_TRAIN_OPTIONS,
        **changes,
    }


def test_training_job_runs_on_a_worker_and_its_promotion_switches_the_active_version(
    on_worker, client_for, enrolled_signer, active_version
):
    worker = on_worker
    client = client_for("ml_staff")

    # A running job stops when cancelled (the worker checks between batches).
    response = client.post("/api/v1/training-jobs/", job_request(epochs=500), format="json")
    assert response.status_code == 202, response.json()
    long_job = response.json()["id"]
    wait_for(
        lambda: client.get(f"/api/v1/training-jobs/{long_job}/").json(),
        lambda j: j["status"] == "running",
        worker,
        120,
        "a running job",
    )
    assert client.post(f"/api/v1/training-jobs/{long_job}/cancel/").status_code == 202
    cancelled, _ = wait_for(
        lambda: client.get(f"/api/v1/training-jobs/{long_job}/").json(),
        lambda j: j["status"] != "running",
        worker,
        60,
        "the cancel",
    )
    assert cancelled["status"] == "cancelled" and cancelled["model_version"] is None

    # A tiny job runs to the end: progress is reported, a new inactive version registered.
    response = client.post("/api/v1/training-jobs/", job_request(epochs=2), format="json")
    assert response.status_code == 202 and response.json()["status"] in ("queued", "running")
    job_id = response.json()["id"]
    job, seen = wait_for(
        lambda: client.get(f"/api/v1/training-jobs/{job_id}/").json(),
        lambda j: j["status"] in ("succeeded", "failed", "cancelled"),
        worker,
        120,
        "the job",
    )
    assert job["status"] == "succeeded", job["error"] + "\n" + job["log_tail"]
    assert "running" in {j["status"] for j in seen}
    assert [h["epoch"] for h in job["history"]] == [1, 2]
    assert job["progress"]["epoch"] == 2 and job["progress"]["heartbeat_at"]
    assert job["progress"]["loss"] is not None and job["progress"]["val_eer"] is not None
    assert "epoch 1/2" in job["log_tail"] and job["worker"].startswith(worker.name.split("@")[0])
    new_version = ModelVersion.objects.get(pk=job["model_version"]["id"])
    assert not new_version.is_active
    assert Path(new_version.weights_path).parent.parent == worker.models_root
    assert ModelVersion.objects.get(is_active=True) == active_version

    # Promotion re-embeds every reference with the new version, then switches.
    response = client.post(f"/api/v1/model-versions/{new_version.pk}/promote/")
    assert response.status_code == 202, response.json()
    promotion, _ = wait_for(
        lambda: client.get(f"/api/v1/promotions/{response.json()['id']}/").json(),
        lambda p: p["status"] in ("succeeded", "failed"),
        worker,
        120,
        "the promotion",
    )
    assert promotion["status"] == "succeeded", promotion["error"]
    references = ReferenceSignature.objects.count()
    assert promotion["done"] == promotion["total"] == references == 3
    assert ReferenceEmbedding.objects.filter(model_version=new_version).count() == references
    assert ModelVersion.objects.get(is_active=True) == new_version
    assert promotion["previous_version"]["id"] == active_version.pk


def test_a_job_whose_worker_is_killed_ends_failed_and_the_active_model_is_unchanged(
    on_worker, client_for, active_version
):
    worker = on_worker
    client = client_for("ml_staff")
    versions_before = set(ModelVersion.objects.values_list("pk", flat=True))
    response = client.post("/api/v1/training-jobs/", job_request(epochs=500), format="json")
    assert response.status_code == 202
    job_id = response.json()["id"]
    wait_for(
        lambda: client.get(f"/api/v1/training-jobs/{job_id}/").json(),
        lambda j: j["status"] == "running" and j["progress"]["epoch"] >= 1,
        worker,
        120,
        "a running job",
    )

    worker.kill_hard()
    assert TrainingJob.objects.get(pk=job_id).status == "running"  # nobody is left to say otherwise

    job, _ = wait_for(
        lambda: client.get(f"/api/v1/training-jobs/{job_id}/").json(),
        lambda j: j["status"] != "running",
        worker,
        STALE_AFTER_S + 30,
        "the stale job, after the kill",
        may_exit=True,
    )
    assert job["status"] == "failed"
    assert "heartbeat" in job["error"] and job["finished_at"]
    assert job["model_version"] is None
    assert ModelVersion.objects.get(is_active=True) == active_version
    assert set(ModelVersion.objects.values_list("pk", flat=True)) == versions_before
