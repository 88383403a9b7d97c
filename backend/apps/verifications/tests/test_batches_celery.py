"""Verification batches against a real Redis and real Celery worker processes, on PostgreSQL.

Runs where REDIS_URL is set (CI); skipped elsewhere, except that in CI (``CI`` set) a missing or
unreachable Redis, or a database other processes cannot share, fails. Each worker is a
``celery -A config worker`` subprocess on a queue of this module's own, sharing the test
database and media folder.
"""

from __future__ import annotations

import base64
import threading
import time

import pytest
from django.db import connection, transaction

from apps.verifications.models import BatchItem, Verification, VerificationBatch
from testsupport.servers import CeleryWorkers, NamedWorker, wait_for
from testsupport.synthetic_data import signature_bytes
from testsupport.uploads import blank_png, upload

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

URL = "/api/v1/verification-batches/"
STALE_AFTER_S = 5.0  # in this process: when the resume route deems a silent worker gone
CHUNK = 3  # the workers' SIGVERIFY_BATCH_CHUNK: a kill lands between chunks and inside one


@pytest.fixture(scope="module")
def workers(django_db_setup, django_db_blocker, tmp_path_factory):
    root = tmp_path_factory.mktemp("batch-workers")
    # Workers never take a batch over for staleness here: resuming is the test's call.
    handle = CeleryWorkers.on_test_database(
        django_db_blocker, root, "test-batches", SIGVERIFY_STALE_AFTER_S="3600", SIGVERIFY_BATCH_CHUNK=str(CHUNK)
    )
    yield handle
    handle.stop_all()


@pytest.fixture
def on_queue(workers, settings, transactional_db):
    """This process sends batches to the workers' queue and resumes after STALE_AFTER_S silent seconds."""
    settings.SIGVERIFY_DEFAULT_QUEUE = workers.queue
    settings.SIGVERIFY_STALE_AFTER_S = STALE_AFTER_S
    return workers


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def batch_items(signer, count: int, bad_at: int | None, prefix: str) -> list[dict]:
    items = [
        {"signer": signer.external_id, "image": b64(signature_bytes(1, 30 + i)), "cheque_reference": f"{prefix}-{i}"}
        for i in range(count)
    ]
    if bad_at is not None:
        items[bad_at]["image"] = b64(blank_png())
    return items


def read_batch(client, batch_id):
    return client.get(f"{URL}{batch_id}/").json()


def assert_each_item_verified_once(batch_id: int, expect_done: int, expect_failed: int) -> None:
    items = list(BatchItem.objects.filter(batch_id=batch_id))
    rows = list(Verification.objects.filter(batch_id=batch_id))
    assert sum(i.status == "done" for i in items) == expect_done
    assert sum(i.status == "failed" for i in items) == expect_failed
    assert not [i for i in items if i.status == "pending"]
    # One log row per verified item, none for failed ones, never two for one cheque.
    assert len(rows) == expect_done
    assert sorted(r.pk for r in rows) == sorted(i.verification_id for i in items if i.status == "done")
    references = [r.cheque_reference for r in rows]
    assert len(set(references)) == len(references)
    by_pk = {r.pk: r for r in rows}
    for item in items:
        if item.status == "done":
            assert by_pk[item.verification_id].cheque_reference == item.cheque_reference


def test_a_batch_of_20_completes_on_a_worker_and_one_bad_item_fails_alone(on_queue, client_for, enrolled_signer):
    worker = on_queue.start("main")
    client = client_for("integrator")
    response = client.post(URL, {"items": batch_items(enrolled_signer, 20, bad_at=7, prefix="B20")}, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "queued" and response.json()["progress"]["total"] == 20
    batch_id = response.json()["id"]

    batch, seen = wait_for(
        lambda: read_batch(client, batch_id), lambda b: b["status"] in ("done", "failed"), worker, 180, "the batch"
    )
    assert batch["status"] == "done", batch["error"] + worker.log_tail()
    assert batch["progress"] == {"done": 20, "total": 20, "failed": 1}
    assert {b["status"] for b in seen} <= {"queued", "running", "done"}
    bad = [i for i in batch["items"] if i["status"] == "failed"]
    assert [(i["index"], i["error"]["code"]) for i in bad] == [(7, "no_ink")]
    good = [i for i in batch["items"] if i["status"] == "done"]
    assert len(good) == 19 and all(i["decision"] in ("genuine", "refer", "forgery") for i in good)
    assert_each_item_verified_once(batch_id, expect_done=19, expect_failed=1)
    assert VerificationBatch.objects.get(pk=batch_id).worker == worker.name
    assert Verification.objects.filter(batch_id=batch_id, requested_by=client.user).count() == 19


def test_a_retry_with_the_same_idempotency_key_creates_no_row(on_queue, client_for, enrolled_signer):
    worker = (
        on_queue.started[-1]
        if on_queue.started and on_queue.started[-1].process.poll() is None
        else on_queue.start("main")
    )
    client = client_for("clerk")

    # A batch sent twice (the first answer was lost, say) is one batch, verified once.
    items = batch_items(enrolled_signer, 5, bad_at=None, prefix="IDEM")
    first = client.post(URL, {"items": items}, format="json", HTTP_IDEMPOTENCY_KEY="batch-retry")
    again = client.post(URL, {"items": items}, format="json", HTTP_IDEMPOTENCY_KEY="batch-retry")
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and again["Idempotent-Replayed"] == "true"
    batch_id = first.json()["id"]
    wait_for(lambda: read_batch(client, batch_id), lambda b: b["status"] == "done", worker, 120, "the batch")
    assert VerificationBatch.objects.filter(requested_by=client.user).count() == 1
    assert_each_item_verified_once(batch_id, expect_done=5, expect_failed=0)

    # A single verification retried concurrently, four times at once: one row, one answer.
    before = Verification.objects.count()
    barrier = threading.Barrier(4)
    answers = []
    clients = [client_for(user=client.user) for _ in range(4)]

    def send(retrying):
        try:
            barrier.wait(timeout=30)
            response = retrying.post(
                "/api/v1/verifications/",
                {
                    "signer": enrolled_signer.pk,
                    "image": upload(signature_bytes(1, 77)),
                    "cheque_reference": "IDEM-single",
                },
                format="multipart",
                HTTP_IDEMPOTENCY_KEY="single-retry",
            )
            answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [code for code, _ in answers] == [201] * 4, answers
    assert len({body["id"] for _, body in answers}) == 1
    assert Verification.objects.count() == before + 1
    assert Verification.objects.filter(cheque_reference="IDEM-single").count() == 1


def _kill_while_blocked_on_item(worker: NamedWorker, batch_id: int, index: int) -> None:
    """Hold item ``index``'s row lock so the worker stops there, then SIGKILL it mid-batch. ``index``
    starts a chunk: the worker has embedded that chunk and waits to write it."""
    with transaction.atomic():
        BatchItem.objects.select_for_update().get(batch_id=batch_id, index=index)
        wait_for(
            lambda: BatchItem.objects.filter(batch_id=batch_id, index__lt=index, status="pending").count(),
            lambda pending: pending == 0,
            worker,
            120,
            f"items before {index}",
        )
        wait_for(lambda: _waiting_on_a_lock(), bool, worker, 60, f"the worker to reach item {index}")
        worker.kill_hard()


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0] > 0


def test_killing_the_worker_mid_batch_loses_and_duplicates_no_item_once_resumed(on_queue, client_for, enrolled_signer):
    for old in on_queue.started:
        old.stop()
    client = client_for("integrator")
    response = client.post(URL, {"items": batch_items(enrolled_signer, 20, bad_at=3, prefix="KILL")}, format="json")
    assert response.status_code == 202, response.json()
    batch_id = response.json()["id"]

    # 1. SIGKILL at item 6, then resume through the API on another worker.
    first = on_queue.start("first")
    _kill_while_blocked_on_item(first, batch_id, 6)
    killed = read_batch(client, batch_id)
    assert killed["status"] == "running" and killed["progress"]["done"] == 6  # nobody is left to say otherwise
    other = on_queue.start("other")
    refused = client.post(f"{URL}{batch_id}/resume/")  # its worker reported a moment ago
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "batch_running"
    time.sleep(STALE_AFTER_S + 0.5)  # silent for longer than SIGVERIFY_STALE_AFTER_S
    response = client.post(f"{URL}{batch_id}/resume/")
    assert response.status_code == 202, response.json()
    # The waiting worker may take the re-queued batch before this answer is written.
    assert response.json()["status"] in ("queued", "running") and response.json()["progress"]["done"] >= 6

    # 2. SIGKILL that one at item 12; a worker of the same name starting again re-runs the batch.
    _kill_while_blocked_on_item(other, batch_id, 12)
    assert read_batch(client, batch_id)["progress"]["done"] == 12
    again = on_queue.start("other")
    batch, _ = wait_for(
        lambda: read_batch(client, batch_id),
        lambda b: b["status"] in ("done", "failed"),
        again,
        180,
        "the re-run batch",
    )
    assert batch["status"] == "done", batch["error"] + again.log_tail()
    assert batch["progress"] == {"done": 20, "total": 20, "failed": 1}
    assert batch["attempts"] == 3
    assert_each_item_verified_once(batch_id, expect_done=19, expect_failed=1)
    assert [i["index"] for i in batch["items"] if i["status"] == "failed"] == [3]
