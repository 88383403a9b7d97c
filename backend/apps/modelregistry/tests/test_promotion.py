"""Promotion: re-embed every reference with a version, then switch the active version;
its states, its API and its admin action."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from kombu.exceptions import OperationalError

from apps.core import jobs
from apps.modelregistry import promotion as runs
from apps.modelregistry import services, tasks
from apps.modelregistry.models import ModelVersion, Promotion
from apps.signers.models import ReferenceEmbedding, ReferenceSignature
from testsupport.fixtures import ROLES
from testsupport.synthetic_data import signature_bytes
from testsupport.uploads import upload

pytestmark = pytest.mark.django_db
P = Promotion.Status


def promote(version, user=None) -> Promotion:
    promotion = services.promotion_start(version=version, requested_by=user)  # the test's transaction defers the send
    runs.run_promotion(promotion.pk)
    promotion.refresh_from_db()
    return promotion


def embedding_ids(version):
    return set(ReferenceEmbedding.objects.filter(model_version=version).values_list("pk", flat=True))


def test_promotion_re_embeds_every_reference_then_switches(
    enrolled_signer, candidate_version, active_version, make_user
):
    from apps.verifications.services import verification_create

    clerk = make_user("clerk")
    before = verification_create(signer=enrolled_signer, image=upload(signature_bytes(1, 8)), user=clerk)
    assert before.model_version == active_version  # until the switch, the old version serves

    promotion = promote(candidate_version)

    assert promotion.status == "succeeded", promotion.error
    assert promotion.done == promotion.total == ReferenceSignature.objects.count() == 3
    assert promotion.previous_version == active_version
    assert len(embedding_ids(candidate_version)) == 3
    assert ModelVersion.objects.get(is_active=True) == candidate_version
    after = verification_create(signer=enrolled_signer, image=upload(signature_bytes(1, 8)), user=clerk)
    assert after.model_version == candidate_version
    before.refresh_from_db()
    assert before.model_version == active_version  # each verification keeps the version it used


def test_rollback_is_promoting_the_earlier_version_whose_embeddings_are_kept(
    enrolled_signer, candidate_version, active_version
):
    old_embeddings = embedding_ids(active_version)
    assert len(old_embeddings) == 3
    assert promote(candidate_version).status == "succeeded"
    new_embeddings = embedding_ids(candidate_version)

    rollback = promote(active_version)

    assert rollback.status == "succeeded"
    assert ModelVersion.objects.get(is_active=True) == active_version
    assert embedding_ids(active_version) == old_embeddings  # nothing recomputed
    assert embedding_ids(candidate_version) == new_embeddings


def test_a_reference_that_cannot_be_embedded_stops_the_switch(enrolled_signer, candidate_version, active_version):
    broken = ReferenceSignature.objects.first()
    with default_storage.open(broken.image.name, "wb") as fh:
        fh.write(b"no longer an image")

    promotion = promote(candidate_version)

    assert promotion.status == "failed"
    assert f"ids [{broken.pk}]" in promotion.error
    assert ModelVersion.objects.get(is_active=True) == active_version
    candidate_version.refresh_from_db()
    assert not candidate_version.is_active


def test_promotion_task_is_idempotent(enrolled_signer, candidate_version):
    promotion = promote(candidate_version)
    ids = embedding_ids(candidate_version)
    assert runs.run_promotion(promotion.pk) == "skipped"  # a redelivered message does nothing
    assert embedding_ids(candidate_version) == ids


def test_admin_promote_action_queues_a_promotion(admin_client, candidate_version, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(
            "/admin/modelregistry/modelversion/",
            {"action": "promote", "_selected_action": [candidate_version.pk]},
            follow=True,
        )
    assert response.status_code == 200
    assert Promotion.objects.filter(model_version=candidate_version, status="queued").count() == 1
    assert len(callbacks) == 1


@pytest.mark.parametrize("source", list(P))
@pytest.mark.parametrize("target", [P.RUNNING, P.SUCCEEDED, P.FAILED])
def test_promotion_transition_only_from_allowed_statuses(source, target, active_version):
    promotion = Promotion.objects.create(model_version=active_version, status=source)
    moved = jobs.transition(Promotion, promotion.pk, target)
    allowed = {P.RUNNING: {P.QUEUED}, P.SUCCEEDED: {P.RUNNING}, P.FAILED: {P.QUEUED, P.RUNNING}}[target]
    assert moved is (source in allowed)


def test_stale_heartbeat_fails_running_promotions(settings, active_version, candidate_version):
    settings.SIGVERIFY_STALE_AFTER_S = 60
    now = timezone.now()
    old, fresh = now - timedelta(seconds=61), now - timedelta(seconds=5)
    dead = Promotion.objects.create(model_version=active_version, status=P.RUNNING, heartbeat_at=old)
    alive = Promotion.objects.create(model_version=candidate_version, status=P.RUNNING, heartbeat_at=fresh)

    assert len(jobs.end_stale(Promotion, now)) == 1

    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == P.FAILED and "heartbeat" in dead.error and "active version was not changed" in dead.error
    assert alive.status == P.RUNNING
    assert jobs.end_stale(Promotion, now) == []


def test_reading_promotions_shows_a_stale_one_failed_and_writes_nothing(settings, client_for, active_version):
    settings.SIGVERIFY_STALE_AFTER_S = 60
    old = timezone.now() - timedelta(minutes=5)
    dead = Promotion.objects.create(model_version=active_version, status=P.RUNNING, started_at=old, heartbeat_at=old)
    client = client_for("ml_staff")
    seen = client.get(f"/api/v1/promotions/{dead.pk}/").json()
    assert seen["status"] == "failed" and "active version was not changed" in seen["error"]
    assert client.get("/api/v1/promotions/", {"status": "failed"}).json()["count"] == 1
    assert client.get("/api/v1/promotions/", {"status": "running"}).json()["count"] == 0
    dead.refresh_from_db()
    assert dead.status == P.RUNNING
    from apps.core.tasks import sweep_runs

    assert sweep_runs.apply().get() == 1
    dead.refresh_from_db()
    assert dead.status == P.FAILED


def test_a_dead_promotion_does_not_block_the_next(
    settings, client_for, active_version, candidate_version, django_capture_on_commit_callbacks
):
    settings.SIGVERIFY_STALE_AFTER_S = 60
    old = timezone.now() - timedelta(minutes=5)
    Promotion.objects.create(model_version=candidate_version, status=P.RUNNING, started_at=old, heartbeat_at=old)
    with django_capture_on_commit_callbacks(execute=False):
        response = client_for("ml_staff").post(f"/api/v1/model-versions/{candidate_version.pk}/promote/")
    assert response.status_code == 202, response.json()


# --- API ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_promote_with_broker_down_answers_503(client_for, candidate_version, monkeypatch, active_version):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(tasks.run_promotion, "apply_async", refuse)
    response = client_for("admin").post(f"/api/v1/model-versions/{candidate_version.pk}/promote/")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "broker_unavailable"
    assert Promotion.objects.get().status == "failed"
    candidate_version.refresh_from_db()
    assert not candidate_version.is_active


def test_promote_answers_202_with_a_queued_promotion(
    client_for, candidate_version, enrolled_signer, django_capture_on_commit_callbacks
):
    client = client_for("ml_staff")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(f"/api/v1/model-versions/{candidate_version.pk}/promote/")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "queued" and body["model_version"]["id"] == candidate_version.pk
    assert body["total"] == 3 and body["done"] == 0
    assert len(callbacks) == 1
    assert client.get(f"/api/v1/promotions/{body['id']}/").json()["status"] == "queued"
    # One promotion at a time.
    busy = client.post(f"/api/v1/model-versions/{candidate_version.pk}/promote/")
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "promotion_in_progress"


def test_promote_refuses_the_active_version_and_unknown_ids(client_for, active_version):
    client = client_for("ml_staff")
    response = client.post(f"/api/v1/model-versions/{active_version.pk}/promote/")
    assert response.status_code == 409 and response.json()["error"]["code"] == "already_active"
    assert client.post("/api/v1/model-versions/999999/promote/").status_code == 404


@pytest.mark.parametrize("role", (None, *ROLES))
def test_promotion_permission_matrix(
    role, client_for, anon_client, candidate_version, django_capture_on_commit_callbacks
):
    client = client_for(role) if role else anon_client
    promotion = Promotion.objects.create(model_version=candidate_version, status="failed")
    allowed = role in ("ml_staff", "admin")
    with django_capture_on_commit_callbacks(execute=False):
        answers = {
            "promote": client.post(f"/api/v1/model-versions/{candidate_version.pk}/promote/").status_code,
            "promotions": client.get("/api/v1/promotions/").status_code,
            "promotion": client.get(f"/api/v1/promotions/{promotion.pk}/").status_code,
        }
    expected_ok = {"promote": 202, "promotions": 200, "promotion": 200}
    refused = 401 if role is None else 403
    assert answers == (expected_ok if allowed else {k: refused for k in expected_ok})
