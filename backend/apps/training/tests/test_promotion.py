"""Promotion: re-embed every reference with a version, then switch the active version."""

import pytest
from django.core.files.storage import default_storage

from apps.conftest import draw_signature, upload
from apps.modelregistry.models import ModelVersion
from apps.signers.models import ReferenceEmbedding, ReferenceSignature
from apps.training import services
from apps.training.models import Promotion

pytestmark = pytest.mark.django_db


def promote(version, user=None) -> Promotion:
    promotion = services.start_promotion(version=version, requested_by=user)  # the test's transaction defers the send
    services.run_promotion(promotion.pk)
    promotion.refresh_from_db()
    return promotion


def embedding_ids(version):
    return set(ReferenceEmbedding.objects.filter(model_version=version).values_list("pk", flat=True))


def test_promotion_re_embeds_every_reference_then_switches(enrolled_signer, candidate_version, active_version,
                                                           make_user):
    from apps.verifications.services import verify_signature

    clerk = make_user("clerk")
    before = verify_signature(signer=enrolled_signer, image=upload(draw_signature(1, 8)), user=clerk)
    assert before.model_version == active_version  # until the switch, the old version serves

    promotion = promote(candidate_version)

    assert promotion.status == "succeeded", promotion.error
    assert promotion.done == promotion.total == ReferenceSignature.objects.count() == 3
    assert promotion.previous_version == active_version
    assert len(embedding_ids(candidate_version)) == 3
    assert ModelVersion.objects.get(is_active=True) == candidate_version
    after = verify_signature(signer=enrolled_signer, image=upload(draw_signature(1, 8)), user=clerk)
    assert after.model_version == candidate_version
    before.refresh_from_db()
    assert before.model_version == active_version  # each verification keeps the version it used


def test_rollback_is_promoting_the_earlier_version_whose_embeddings_are_kept(enrolled_signer, candidate_version,
                                                                              active_version):
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
    assert services.run_promotion(promotion.pk) == "skipped"  # a redelivered message does nothing
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
