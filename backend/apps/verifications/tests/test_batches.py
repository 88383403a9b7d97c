"""Verification batches on SQLite: the envelope's validation, roles, the status shape, and
running, re-running and resuming a batch in this process (the Celery task is a thin wrapper;
tests/test_batches_celery.py runs it on a real worker)."""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from apps.core import jobs
from apps.verifications import batch_runs, batches
from apps.verifications.models import BatchItem, Verification, VerificationBatch
from testsupport.synthetic_data import signature_bytes
from testsupport.uploads import blank_png, media_files

pytestmark = pytest.mark.django_db
URL = "/api/v1/verification-batches/"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def item(signer, sample: int = 0, **changes) -> dict:
    body = {"signer": str(signer), "image": b64(signature_bytes(1, 20 + sample)), "cheque_reference": f"CHQ-{sample}"}
    body.update(changes)
    return body


def post(client, items, **headers):
    return client.post(URL, {"items": items}, format="json", **headers)


# --- the envelope ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "items"),
        ({"items": []}, "items"),
        ({"items": "not a list"}, "items"),
        ({"items": [{"image": "aGk="}]}, "items.0.signer"),
        ({"items": [{"signer": "ACC-1001"}]}, "items.0.image"),
        ({"items": [{"signer": "ACC-1001", "image": "aGk=", "crop": "1,2,3"}]}, "items.0.crop"),
        ({"items": [{"signer": "ACC-1001", "image": "aGk=", "crop": 12.5}]}, "items.0.crop"),
        ({"items": [{"signer": "ACC-1001", "image": "aGk=", "crop": {"x": 1}}]}, "items.0.crop"),
        ({"items": ["not an object"]}, "items.0"),
        ({"items": [{"signer": "x" * 65, "image": "aGk="}]}, "items.0.signer"),
        (
            {"items": [{"signer": "ACC-1001", "image": "aGk=", "cheque_reference": "c" * 101}]},
            "items.0.cheque_reference",
        ),
    ],
)
def test_an_invalid_envelope_is_refused_with_400_and_nothing_is_stored(client_for, enrolled_signer, body, field):
    media_before = media_files(settings.MEDIA_ROOT)
    response = client_for("integrator").post(URL, body, format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["message"]
    node = error["fields"]
    for part in field.split("."):
        assert part in node, (field, error["fields"])
        node = node[part]
    assert not VerificationBatch.objects.exists()
    assert media_files(settings.MEDIA_ROOT) == media_before


def test_item_errors_name_only_the_bad_items_by_position(client_for, enrolled_signer):
    items = [item(enrolled_signer.external_id, i) for i in range(5)]
    del items[3]["signer"]
    response = post(client_for("clerk"), items)
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]["items"]) == ["3"]
    assert "signer" in response.json()["error"]["message"]


def test_more_than_the_item_limit_is_refused(client_for, enrolled_signer, settings):
    settings.SIGVERIFY_BATCH_MAX_ITEMS = 500
    items = [{"signer": "ACC-1001", "image": "aGk="}] * 501
    response = post(client_for("integrator"), items)
    assert response.status_code == 400
    assert "at most 500 items" in response.json()["error"]["message"]
    assert not VerificationBatch.objects.exists()


def test_a_body_over_the_size_limit_is_refused_with_413(client_for, enrolled_signer, settings):
    settings.SIGVERIFY_BATCH_MAX_MB = 1
    items = [item(enrolled_signer.external_id, 0, image="A" * (1024 * 1024))]
    response = post(client_for("integrator"), items)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def scan_png(size: int) -> bytes:
    """A PNG of about ``size`` bytes that does not compress (grey noise), standing in for a scan."""
    import io

    import numpy as np
    from PIL import Image

    side = int(size**0.5)
    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (side, side), dtype=np.uint8)).save(out, "PNG")
    return out.getvalue()


def test_a_batch_of_real_size_scans_is_accepted_and_one_over_the_limit_is_413(client_for, enrolled_signer):
    import json

    # 200 items of about 155 KB of base64 each, as CEDAR's 300 dpi scans are: about 31 MB of JSON,
    # three times Django's DATA_UPLOAD_MAX_MEMORY_SIZE (one image's limit), which answered 500.
    image = b64(scan_png(116_000))
    body = json.dumps({"items": [item(enrolled_signer.external_id, i, image=image) for i in range(200)]})
    assert len(body) > 30_000_000 > 2 * settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    client = client_for("integrator")
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == 202 and response.json()["progress"]["total"] == 200
    assert BatchItem.objects.filter(batch_id=response.json()["id"], status="pending").count() == 200

    limit = len(body) // (2 * 1024 * 1024)
    with override_settings(SIGVERIFY_BATCH_MAX_MB=limit):
        response = client.post(URL, body, content_type="application/json")
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"
    assert f"more than the limit of {limit} MB" in response.json()["error"]["message"]
    assert VerificationBatch.objects.count() == 1  # nothing stored for the refused one


def test_any_other_body_over_djangos_limit_is_413_naming_it_not_500(client_for):
    limit_mb = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 1048576
    body = '{"username": "' + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + '"}'
    response = client_for("integrator").post("/api/v1/auth/token/", body, content_type="application/json")
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"
    assert f"limit of {limit_mb:g} MB" in response.json()["error"]["message"]


def test_multipart_is_not_the_batch_format(client_for, enrolled_signer):
    response = client_for("integrator").post(URL, {"items": "x"}, format="multipart")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


# --- accepting a batch ---------------------------------------------------------------------------


def test_a_batch_is_accepted_with_202_and_its_images_are_stored_before_the_answer(
    client_for, enrolled_signer, django_capture_on_commit_callbacks
):
    items = [item(enrolled_signer.external_id, i) for i in range(3)]
    items.append(item(enrolled_signer.external_id, 3, image="%%% not base64 %%%"))
    items[1]["image"] = "data:image/png;base64," + items[1]["image"]
    items[2]["crop"] = [0, 0, 300, 150]
    client = client_for("integrator")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(client, items)
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "queued"
    assert body["progress"] == {"done": 1, "total": 4, "failed": 1}  # the undecodable one failed at once
    assert body["requested_by"] == client.user.username
    assert body["url"].endswith(f"{URL}{body['id']}/")
    assert [i["status"] for i in body["items"]] == ["pending", "pending", "pending", "failed"]
    assert body["items"][3]["error"]["code"] == "invalid_base64"
    assert body["items"][0] == {
        "index": 0,
        "signer": "ACC-1001",
        "cheque_reference": "CHQ-0",
        "status": "pending",
        "verification": None,
        "decision": None,
        "score": None,
        "reference_count": None,
        "reason": None,
        "error": None,
    }
    assert len(callbacks) == 1  # queued only once the rows are committed

    stored = BatchItem.objects.filter(batch_id=body["id"]).exclude(image="").order_by("index")
    assert [i.index for i in stored] == [0, 1, 2]
    for row, sent in zip(stored, items[:3], strict=True):  # the 4th item's image never decoded
        path = Path(settings.MEDIA_ROOT) / row.image.name
        assert row.image.name.startswith(f"batches/{body['id']}/")
        assert path.read_bytes() == base64.b64decode(sent["image"].split(",")[-1])
    assert stored[2].crop == [0, 0, 300, 150]


def test_a_batch_whose_every_image_is_undecodable_is_done_at_once(
    client_for, enrolled_signer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(client_for("clerk"), [item(enrolled_signer.pk, 0, image="@@@")])
    assert response.status_code == 202
    assert response.json()["status"] == "done" and response.json()["progress"] == {"done": 1, "total": 1, "failed": 1}
    assert not callbacks


def test_an_unreachable_broker_keeps_the_batch_queued_with_its_images(
    client_for, enrolled_signer, monkeypatch, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    from apps.verifications import tasks

    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.run_verification_batch, "apply_async", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client_for("clerk"), [item(enrolled_signer.pk, 0)])
    assert response.status_code == 202
    batch = VerificationBatch.objects.get(pk=response.json()["id"])
    assert batch.status == "queued" and "unreachable" in batch.error and batch.task_id == ""
    assert batch.items.get().image.name  # kept, so nothing is lost

    queued = []
    monkeypatch.setattr(jobs, "enqueue", lambda model, pk: queued.append(pk))
    assert jobs.recover(VerificationBatch) == [batch.pk]  # what a starting worker or the beat sweep does
    assert queued == [batch.pk]


def test_a_resumed_batch_the_broker_refuses_is_sent_again_by_the_next_sweep(make_user, enrolled_signer, monkeypatch):
    from kombu.exceptions import OperationalError

    from apps.verifications import tasks

    batch = make_batch(make_user("clerk"), enrolled_signer, count=1, bad_at=None)
    VerificationBatch.objects.filter(pk=batch.pk).update(status="failed", task_id="first-run")
    monkeypatch.setattr(
        tasks.run_verification_batch,
        "apply_async",
        lambda *a, **k: (_ for _ in ()).throw(OperationalError("connection refused")),
    )
    batches.resume_batch(batch)
    assert not jobs.enqueue(VerificationBatch, batch.pk)
    batch.refresh_from_db()
    assert batch.status == "queued" and batch.task_id == "" and "unreachable" in batch.error
    queued = []
    monkeypatch.setattr(jobs, "enqueue", lambda model, pk: queued.append(pk))
    assert jobs.recover(VerificationBatch) == [batch.pk]


# --- running it ----------------------------------------------------------------------------------


def make_batch(user, signer, count: int = 4, bad_at: int | None = 1) -> VerificationBatch:
    items = [item(signer.external_id, i) for i in range(count)]
    if bad_at is not None:
        items[bad_at]["image"] = b64(blank_png())
    return batches.create_batch(user=user, items=items)


def test_running_a_batch_verifies_each_item_through_the_service_and_one_bad_image_fails_alone(
    client_for, enrolled_signer
):
    client = client_for("integrator")
    items = [item(enrolled_signer.external_id, i) for i in range(4)]
    items[1]["image"] = b64(blank_png())
    items.append(item("NO-SUCH-SIGNER", 9))
    batch_id = post(client, items).json()["id"]

    assert batch_runs.run_batch(batch_id, worker="test@host") == "done"

    body = client.get(f"{URL}{batch_id}/").json()
    assert body["status"] == "done" and body["error"] == ""
    assert body["progress"] == {"done": 5, "total": 5, "failed": 2}
    assert body["attempts"] == 1 and body["started_at"] and body["finished_at"]
    by_index = {i["index"]: i for i in body["items"]}
    assert by_index[1]["status"] == "failed" and by_index[1]["error"]["code"] == "no_ink"
    assert by_index[4]["error"]["code"] == "signer_not_found"
    for index in (0, 2, 3):
        result = by_index[index]
        assert result["status"] == "done" and result["error"] is None
        assert result["decision"] in ("genuine", "refer", "forgery") and 0 <= result["score"] <= 1
        assert result["reference_count"] == 3  # the signer's three references
        row = client.get(f"/api/v1/verifications/{result['verification']}/").json()
        assert row["batch"] == batch_id and row["cheque_reference"] == f"CHQ-{index}"
        assert row["decision"] == result["decision"] and row["requested_by"] == client.user.username
    listed = client.get(f"/api/v1/verifications/?batch={batch_id}").json()
    assert listed["count"] == 3
    assert Verification.objects.filter(batch_id=batch_id).count() == 3


def test_an_image_with_characters_base64_never_holds_fails_alone(client_for, enrolled_signer):
    good = item(enrolled_signer.external_id, 0)
    body = json.dumps({"items": [good, {"signer": enrolled_signer.external_id, "image": "aGk=\ud800"}]})
    response = client_for("integrator").generic("POST", URL, body, content_type="application/json")
    assert response.status_code == 202, response.json()
    assert [(i["status"], i["error"]) for i in response.json()["items"]] == [
        ("pending", None),
        ("failed", {"code": "invalid_base64", "message": "The image is not valid base64."}),
    ]


def test_a_batch_can_be_polled_without_its_items(client_for, enrolled_signer):
    client = client_for("integrator")
    batch_id = post(client, [item(enrolled_signer.external_id, i) for i in range(3)]).json()["id"]

    pending = client.get(f"{URL}{batch_id}/?items=false").json()
    assert "items" not in pending
    assert pending["status"] == "queued" and pending["progress"] == {"done": 0, "total": 3, "failed": 0}

    batch_runs.run_batch(batch_id)
    done = client.get(f"{URL}{batch_id}/?items=false").json()
    assert "items" not in done and done["status"] == "done" and done["progress"]["done"] == 3
    assert len(client.get(f"{URL}{batch_id}/").json()["items"]) == 3  # the default keeps them
    assert len(client.get(f"{URL}{batch_id}/?items=true").json()["items"]) == 3


def test_running_a_batch_again_verifies_nothing_twice(make_user, enrolled_signer):
    batch = make_batch(make_user("clerk"), enrolled_signer)
    assert batch_runs.run_batch(batch.pk) == "done"
    rows = set(Verification.objects.filter(batch=batch).values_list("pk", flat=True))
    assert batch_runs.run_batch(batch.pk) == "skipped (done)"  # a redelivered message
    for pk in batch.items.values_list("pk", flat=True):
        assert batch_runs.process_item(pk) == "skipped"
    assert set(Verification.objects.filter(batch=batch).values_list("pk", flat=True)) == rows


def test_a_run_stopped_midway_is_resumed_from_where_it_stopped(make_user, enrolled_signer, monkeypatch, settings):
    settings.SIGVERIFY_BATCH_CHUNK = 3
    batch = make_batch(make_user("clerk"), enrolled_signer, count=6, bad_at=None)
    calls = []
    real = batch_runs.process_chunk

    def dies_on_the_second_chunk(pks):
        calls.append(pks)
        if len(calls) == 2:
            raise KeyboardInterrupt  # stands for the worker being killed
        return real(pks)

    monkeypatch.setattr(batch_runs, "process_chunk", dies_on_the_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        batch_runs.run_batch(batch.pk, worker="w1@host")
    batch.refresh_from_db()
    assert batch.status == "running" and batch.items.filter(status="done").count() == 3

    monkeypatch.setattr(batch_runs, "process_chunk", real)
    assert jobs.recover(VerificationBatch, worker="w2@host") == []  # another worker; this one still looks alive
    queued = []
    monkeypatch.setattr(jobs, "enqueue", lambda model, pk: queued.append(pk))
    assert jobs.recover(VerificationBatch, worker="w1@host") == [batch.pk]  # w1 restarted: its batch is orphaned
    assert batch_runs.run_batch(batch.pk, worker="w1@host") == "done"
    batch.refresh_from_db()
    assert batch.attempts == 2 and batch.status == "done"
    assert batch.items.filter(status="done").count() == 6
    assert Verification.objects.filter(batch=batch).count() == 6
    assert len(set(BatchItem.objects.filter(batch=batch).values_list("verification", flat=True))) == 6


def test_a_worker_killed_inside_a_chunk_leaves_none_of_that_chunk(make_user, enrolled_signer, monkeypatch, settings):
    settings.SIGVERIFY_BATCH_CHUNK = 4
    batch = make_batch(make_user("clerk"), enrolled_signer, count=4, bad_at=None)

    def killed_while_writing(*args, **kwargs):
        raise KeyboardInterrupt

    before = media_files(settings.MEDIA_ROOT)
    monkeypatch.setattr(Verification.objects, "bulk_create", killed_while_writing)
    with pytest.raises(KeyboardInterrupt):
        batch_runs.process_chunk(list(batch.items.values_list("pk", flat=True)))
    assert Verification.objects.filter(batch=batch).count() == 0
    assert batch.items.filter(status="pending").count() == 4
    assert media_files(settings.MEDIA_ROOT) == before  # the chunk's stored images were removed
    monkeypatch.undo()
    assert batch_runs.run_batch(batch.pk, worker="w1@host") == "done"
    assert batch.items.filter(status="done").count() == 4


def test_a_run_that_was_taken_over_stops(make_user, enrolled_signer, monkeypatch, settings):
    settings.SIGVERIFY_BATCH_CHUNK = 1
    batch = make_batch(make_user("clerk"), enrolled_signer, count=3, bad_at=None)
    real = batch_runs.process_chunk

    def another_run_takes_over(pks):
        result = real(pks)
        VerificationBatch.objects.filter(pk=batch.pk).update(attempts=99)
        return result

    monkeypatch.setattr(batch_runs, "process_chunk", another_run_takes_over)
    assert batch_runs.run_batch(batch.pk) == "taken over"
    assert batch.items.filter(status="done").count() == 1


def test_a_chunk_is_one_forward_pass_and_its_writes_do_not_grow_with_its_items(
    make_user, enrolled_signer, active_version, monkeypatch, settings
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.modelregistry.serving import get_verifier

    verifier = get_verifier(active_version)
    passes = []
    real = verifier.embed_arrays
    monkeypatch.setattr(verifier, "embed_arrays", lambda arrays: passes.append(len(arrays)) or real(arrays))
    user = make_user("clerk")
    queries = {}
    for count in (2, 6):
        settings.SIGVERIFY_BATCH_CHUNK = count
        batch = make_batch(user, enrolled_signer, count=count, bad_at=1)
        pks = list(batch.items.filter(status="pending").values_list("pk", flat=True))
        with CaptureQueriesContext(connection) as captured:
            statuses = batch_runs.process_chunk(pks)
        queries[count] = len(captured)
        assert sorted(statuses.values()).count("done") == count - 1
    assert passes == [1, 5]  # the blank image fails in preprocessing and is not embedded
    assert queries[6] == queries[2]  # bulk writes: the same statements for 2 items as for 6


def test_a_chunks_images_are_preprocessed_on_the_pool_with_the_same_results_as_in_one_thread(
    make_user, enrolled_signer, monkeypatch, settings
):
    from apps.verifications import services

    real, threads = services.verification_preprocess, set()

    def recorded(*args, **kwargs):
        threads.add(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "verification_preprocess", recorded)
    user = make_user("clerk")
    outcomes = {}
    for count in (1, 3):
        settings.SIGVERIFY_BATCH_THREADS = count
        threads.clear()
        batch = make_batch(user, enrolled_signer, count=6, bad_at=2)
        assert batch_runs.run_batch(batch.pk) == "done"
        outcomes[count] = [
            (i.status, i.error_code, i.verification and (i.verification.score, i.verification.decision))
            for i in batch.items.select_related("verification").order_by("index")
        ]
        if count == 1:
            assert threads == {threading.current_thread().name}  # in the run's own thread
        else:
            assert threads and all(name.startswith("sigverify-images") for name in threads)
    assert outcomes[3] == outcomes[1]
    assert [o[0] for o in outcomes[3]] == ["done", "done", "failed", "done", "done", "done"]
    assert outcomes[3][2][1] == "no_ink"  # the blank image's own error, from a pool thread


def test_without_a_servable_model_the_batch_fails_and_resumes_once_fixed(
    make_user, enrolled_signer, active_version, client_for
):
    from apps.modelregistry.models import ModelVersion

    user = make_user("clerk")
    batch = make_batch(user, enrolled_signer, count=3, bad_at=None)
    ModelVersion.objects.filter(pk=active_version.pk).update(is_active=False)
    assert batch_runs.run_batch(batch.pk) == "failed"
    batch.refresh_from_db()
    assert batch.status == "failed" and "resume" in batch.error
    assert batch.items.filter(status="pending").count() == 3  # no item is failed for the model's sake

    ModelVersion.objects.filter(pk=active_version.pk).update(is_active=True)
    client = client_for(user=user)
    response = client.post(f"{URL}{batch.pk}/resume/")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    assert batch_runs.run_batch(batch.pk) == "done"
    assert batch.items.filter(status="done").count() == 3


def test_resume_refuses_a_done_batch_and_a_running_one_whose_worker_reports(
    make_user, enrolled_signer, client_for, settings
):
    user = make_user("integrator")
    client = client_for(user=user)
    done = make_batch(user, enrolled_signer, count=1, bad_at=None)
    batch_runs.run_batch(done.pk)
    response = client.post(f"{URL}{done.pk}/resume/")
    assert response.status_code == 409 and response.json()["error"]["code"] == "batch_done"

    running = make_batch(user, enrolled_signer, count=1, bad_at=None)
    VerificationBatch.objects.filter(pk=running.pk).update(status="running", heartbeat_at=timezone.now())
    response = client.post(f"{URL}{running.pk}/resume/")
    assert response.status_code == 409 and response.json()["error"]["code"] == "batch_running"

    stale = timezone.now() - timedelta(seconds=settings.SIGVERIFY_STALE_AFTER_S + 1)
    VerificationBatch.objects.filter(pk=running.pk).update(heartbeat_at=stale)
    response = client.post(f"{URL}{running.pk}/resume/")
    assert response.status_code == 202 and response.json()["status"] == "queued"


# --- roles ----------------------------------------------------------------------------------------


def test_verifiers_read_their_own_batches_and_admins_read_all(client_for, make_user, enrolled_signer):
    clerk, integrator, other_clerk = (client_for(role) for role in ("clerk", "integrator", "clerk"))
    mine = post(clerk, [item(enrolled_signer.pk, 0)]).json()["id"]
    theirs = post(integrator, [item(enrolled_signer.pk, 1)]).json()["id"]

    assert [b["id"] for b in clerk.get(URL).json()["results"]] == [mine]
    assert [b["id"] for b in integrator.get(URL).json()["results"]] == [theirs]
    assert other_clerk.get(URL).json()["count"] == 0
    assert clerk.get(f"{URL}{mine}/").status_code == 200
    assert clerk.get(f"{URL}{theirs}/").status_code == 404  # others' batches do not exist for them
    assert other_clerk.post(f"{URL}{mine}/resume/").status_code == 404
    admin = client_for("admin")
    assert {b["id"] for b in admin.get(URL).json()["results"]} == {mine, theirs}
    assert admin.get(f"{URL}{theirs}/").status_code == 200
    summary = admin.get(URL).json()["results"][0]
    assert set(summary) == {
        "id",
        "status",
        "progress",
        "error",
        "requested_by",
        "attempts",
        "created_at",
        "started_at",
        "finished_at",
        "url",
    }  # the list leaves the items out


BATCH_CALLERS = ("anonymous", "no_role", "clerk", "integrator", "ml_staff", "admin", "superuser")
MAY_VERIFY = {"clerk", "integrator", "admin", "superuser"}


@pytest.mark.parametrize("caller", BATCH_CALLERS)
def test_batch_routes_permission_matrix(caller, make_user, enrolled_signer, django_capture_on_commit_callbacks):
    from rest_framework.test import APIClient

    from apps.accounts.services import token_issue

    owner = make_user("clerk")
    batch = make_batch(owner, enrolled_signer, count=1, bad_at=None)
    client = APIClient()
    if caller != "anonymous":
        roles = () if caller in ("no_role", "superuser") else (caller,)
        user = make_user(*roles, is_superuser=caller == "superuser")
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user).key}")
    with django_capture_on_commit_callbacks(execute=False):
        answers = {
            "list": client.get(URL).status_code,
            "create": post(client, [item(enrolled_signer.pk, 0)]).status_code,
            "detail": client.get(f"{URL}{batch.pk}/").status_code,
            "resume": client.post(f"{URL}{batch.pk}/resume/").status_code,
        }
    for name, code in answers.items():
        if caller in MAY_VERIFY:
            assert code not in (401, 403) and code < 500, (caller, name, code)
        else:
            assert code == (401 if caller == "anonymous" else 403), (caller, name, code)
    if caller in ("admin", "superuser"):
        assert answers["detail"] == 200  # admins read every batch
    elif caller in MAY_VERIFY:
        assert answers["detail"] == 404  # not theirs


def test_the_schema_documents_the_batch_routes_and_the_idempotency_key(client_for):
    schema = client_for("clerk").get("/api/v1/schema/?format=json").json()
    create = schema["paths"]["/api/v1/verification-batches/"]["post"]
    assert "202" in create["responses"] and "application/json" in create["requestBody"]["content"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in create["parameters"])
    single = schema["paths"]["/api/v1/verifications/"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in single["parameters"])
    assert "/api/v1/verification-batches/{id}/resume/" in schema["paths"]


def test_stored_batch_images_are_owned_and_kept_by_the_orphan_sweep(make_user, enrolled_signer):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from apps.core.orphans import sweep_orphan_files

    batch = make_batch(make_user("clerk"), enrolled_signer, count=2, bad_at=None)
    orphan = default_storage.save(f"batches/{batch.pk}/999-orphan.png", ContentFile(signature_bytes(2, 2)))
    result = sweep_orphan_files(older_than=timedelta(0), dry_run=True)
    assert orphan in result.orphans
    assert not {row.image.name for row in batch.items.all()} & set(result.orphans)


def test_sweep_runs_command_queues_the_orphaned_batches(make_user, enrolled_signer, monkeypatch, settings):
    from django.core.management import call_command

    batch = make_batch(make_user("clerk"), enrolled_signer, count=1, bad_at=None)
    stale = timezone.now() - timedelta(seconds=settings.SIGVERIFY_STALE_AFTER_S + 5)
    VerificationBatch.objects.filter(pk=batch.pk).update(status="running", heartbeat_at=stale, task_id="t-1")
    queued = []
    monkeypatch.setattr(jobs, "enqueue", lambda model, pk: queued.append(pk))
    call_command("sweep_runs")
    assert queued == [batch.pk]
    assert VerificationBatch.objects.get(pk=batch.pk).status == "queued"


def test_celery_beat_sweep_queues_a_batch_whose_worker_went_silent(make_user, enrolled_signer, monkeypatch, settings):
    from apps.core.tasks import sweep_runs

    batch = make_batch(make_user("clerk"), enrolled_signer, count=1, bad_at=None)
    VerificationBatch.objects.filter(pk=batch.pk).update(status="running", heartbeat_at=timezone.now(), task_id="t")
    queued = []
    monkeypatch.setattr(jobs, "enqueue", lambda model, pk: queued.append(pk))
    assert sweep_runs() == 0  # its worker reported just now
    VerificationBatch.objects.filter(pk=batch.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.SIGVERIFY_STALE_AFTER_S + 1)
    )
    assert sweep_runs() == 1 and queued == [batch.pk]
