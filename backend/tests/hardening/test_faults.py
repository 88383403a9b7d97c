"""Fault injection with real parts: a Redis of our own that we stop, a gunicorn we restart.

Covered elsewhere and not repeated: a worker killed mid-training
(training/tests/test_celery_integration.py) and a corrupted weights file refused at load and
shown in the health check (modelregistry/tests/test_registry.py, plus the sha256 check in
test_security.py).

Never touches the shared Redis on 6379: the broker test starts its own redis-server on a free
port. Both tests run where their parts exist and skip elsewhere, except in CI (``CI`` set), where
a missing part fails them (``testsupport.ci``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from apps.training.models import TrainingJob
from apps.verifications.models import Verification
from testsupport.ci import skip_or_fail
from testsupport.servers import BACKEND, Gunicorn, database_url_for_subprocesses, free_port
from testsupport.synthetic_data import signature_bytes
from testsupport.uploads import upload

# --- the broker goes away ----------------------------------------------------------------


class PrivateRedis:
    def __init__(self):
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        import redis

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping()
                return
            except redis.RedisError:
                time.sleep(0.1)
        pytest.fail("the private redis-server did not start")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_connect_timeout=1)


@pytest.fixture
def private_redis():
    handle = PrivateRedis()
    if not handle.binary:
        skip_or_fail("redis-server is not installed")
    handle.start()
    yield handle
    handle.stop()


@pytest.fixture
def broker_is(private_redis, settings):
    """This process's Celery app and health check talk to the private Redis."""
    from config.celery import app

    def reset_pools():
        # New pools are made for the new URL (kombu keeps one per URL; closing them would
        # break the next test that uses the original broker).
        app._pool = None
        app.amqp._producer_pool = None

    saved = {k: app.conf[k] for k in ("broker_url", "broker_transport_options", "result_backend")}
    settings.REDIS_URL = private_redis.url
    app.conf.broker_url = private_redis.url
    app.conf.broker_transport_options = {"visibility_timeout": 3600}
    app.conf.result_backend = None
    reset_pools()
    yield private_redis
    app.conf.update(saved)
    reset_pools()


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_broker_down_verification_works_and_training_gets_503_then_recovers(
    broker_is, client_for, enrolled_signer, tmp_path, settings
):
    from apps.training.tests.factories import TINY_TRAIN_OPTIONS, make_dataset

    redis_server = broker_is
    settings.SIGVERIFY_ORGANIZED_DATA = tmp_path / "organized_data"
    settings.SIGVERIFY_ORGANIZED_DATA.mkdir()
    make_dataset(settings.SIGVERIFY_ORGANIZED_DATA, "tiny")
    ml, clerk = client_for("ml_staff"), client_for("clerk")
    job_request = {"datasets": ["tiny"], "epochs": 1, "loss": "triplet-semihard", "options": TINY_TRAIN_OPTIONS}

    # Broker up: the job is accepted and its message really sits in the private Redis.
    response = ml.post("/api/v1/training-jobs/", job_request, format="json")
    assert response.status_code == 202, response.json()
    assert redis_server.client().llen(settings.SIGVERIFY_GPU_QUEUE) == 1

    redis_server.stop()

    started = time.monotonic()
    response = ml.post("/api/v1/training-jobs/", job_request, format="json")
    assert response.status_code == 503, response.json()
    assert response.json()["error"]["code"] == "broker_unavailable"
    assert time.monotonic() - started < 30  # fails fast instead of hanging the web worker
    refused = TrainingJob.objects.order_by("-pk").first()
    assert refused.status == "failed" and "unreachable" in refused.error

    verified = clerk.post(
        "/api/v1/verifications/",
        {"signer": enrolled_signer.pk, "image": upload(signature_bytes(1, 7))},
        format="multipart",
    )
    assert verified.status_code == 201, verified.json()
    assert verified.json()["decision"] in ("genuine", "refer", "forgery")

    health = client_for().get("/api/v1/health/")
    assert health.status_code == 200
    assert health.json()["status"] == "degraded" and health.json()["broker"]["ok"] is False

    # Broker back on the same address: the same web process enqueues again without a restart.
    redis_server.start()
    response = ml.post("/api/v1/training-jobs/", job_request, format="json")
    assert response.status_code == 202, response.json()
    assert redis_server.client().llen(settings.SIGVERIFY_GPU_QUEUE) == 1


# --- the web server restarts during a burst ------------------------------------------------


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_restarting_the_web_server_during_a_burst_leaves_no_half_written_record(enrolled_signer, client_for, tmp_path):
    import requests

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url_for_subprocesses(skip_or_fail),
        "SIGVERIFY_TORCH_THREADS": "1",
        "PYTHONPATH": str(BACKEND),
    }
    server = Gunicorn(env, tmp_path / "gunicorn.log", workers=2, threads=2, timeout=60, graceful_timeout=20)
    token = client_for("clerk")._credentials["HTTP_AUTHORIZATION"]
    images = [signature_bytes(1, 100 + i) for i in range(6)]
    prefix = f"BURST-{uuid.uuid4().hex[:6]}-"
    outcomes: dict[str, object] = {}
    lock = threading.Lock()
    stop = threading.Event()
    server.start()

    def client(n: int):
        session = requests.Session()
        session.headers["Authorization"] = token
        i = 0
        while not stop.is_set():
            reference = f"{prefix}{n}-{i}"
            i += 1
            try:
                response = session.post(
                    f"{server.url}/api/v1/verifications/",
                    data={"signer": enrolled_signer.pk, "cheque_reference": reference},
                    files={"image": (f"q{i}.png", images[i % len(images)])},
                    timeout=60,
                )
                outcome = response.status_code
            except requests.RequestException as exc:
                outcome = type(exc).__name__
                time.sleep(0.05)
            with lock:
                outcomes[reference] = outcome

    media = Path(settings.MEDIA_ROOT)
    files_before = {p for p in media.rglob("*") if p.is_file()}
    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(4)]
    try:
        for thread in threads:
            thread.start()
        _wait_for(lambda: sum(1 for o in outcomes.values() if o == 201) >= 8, "first verifications")
        # 1. A graceful restart: in-flight requests finish, then a new server starts.
        assert server.stop(timeout=60), "gunicorn did not stop gracefully"
        server.start()
        _wait_for(lambda: sum(1 for o in outcomes.values() if o == 201) >= 16, "verifications after the restart")
        # 2. A crash: one worker is killed mid-burst; the master replaces it.
        os.kill(server.workers()[0], signal.SIGKILL)
        time.sleep(1.0)
        _wait_for(lambda: sum(1 for o in outcomes.values() if o == 201) >= 24, "verifications after the crash")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=90)
        server.kill()

    answered = {ref for ref, outcome in outcomes.items() if outcome == 201}
    no_answer = {ref for ref, outcome in outcomes.items() if not isinstance(outcome, int)}
    assert all(isinstance(o, str) or o in (201,) for o in outcomes.values()), {
        r: o for r, o in outcomes.items() if o not in (201,) and not isinstance(o, str)
    }
    rows = list(Verification.objects.filter(cheque_reference__startswith=prefix))
    by_reference: dict[str, list] = {}
    for row in rows:
        by_reference.setdefault(row.cheque_reference, []).append(row)
    # Every answered request has exactly one row; no row is duplicated.
    assert answered <= set(by_reference), sorted(answered - set(by_reference))[:5]
    assert all(len(v) == 1 for v in by_reference.values())
    # Every row is complete: its file exists and is the very image that was sent.
    for row in rows:
        path = media / row.image.name
        assert path.is_file(), row.image.name
        assert _sha256(path) == row.image_sha256
        assert row.decision in ("genuine", "refer", "forgery") and row.processing_ms > 0
    # Rows exist only for requests that were answered or cut off, never for unknown ones.
    assert set(by_reference) <= answered | no_answer
    # Files without a row: only a request killed in flight can leave one (never a broken row).
    referenced = {row.image.name for row in Verification.objects.all()}
    orphans = [
        p
        for p in media.rglob("*")
        if p.is_file() and p not in files_before and str(p.relative_to(media)) not in referenced
    ]
    assert len(orphans) <= len(no_answer), (len(orphans), len(no_answer))
    assert len(answered) >= 24


def _wait_for(condition, what: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")
