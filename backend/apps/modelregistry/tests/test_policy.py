"""The operating policy: thresholds from stored validation scores, the audit trail and who may change it."""

import json
import shutil

import numpy as np
import pytest
from django.contrib.auth.models import Permission

from apps.modelregistry.models import ModelVersion, PolicyChange
from apps.modelregistry.services import model_version_register, policy_set
from sigverify.policy import SCORES_FILE, SWEEP_TARGETS, Policy, StoredScores, thresholds_for
from sigverify.weights import CARD_FILE
from testsupport.synthetic_data import signature_bytes
from testsupport.tiny_model import write_tiny_model
from testsupport.uploads import upload

pytestmark = pytest.mark.django_db


def synthetic_scores(sha256: str, n: int = 300, seed: int = 0) -> StoredScores:
    """Calibrated scores as `sigverify publish` stores them: genuine high, skilled forgeries lower."""
    rng = np.random.default_rng(seed)

    def kinds():
        return {"genuine": rng.beta(8, 2, n), "skilled": rng.beta(3, 4, n), "random": rng.beta(1, 8, n)}

    return StoredScores(5, {split: {"cedar": kinds(), "gpds": kinds()} for split in ("val", "test")}, sha256)


def add_scores(directory, seed: int = 0) -> dict:
    """Write scores.json beside the card and point the card at it (its sha256), as publish does."""
    card = json.loads((directory / CARD_FILE).read_text())
    sha = synthetic_scores(card["sha256"], seed=seed).write(directory)
    card["scores"] = {"file": SCORES_FILE, "sha256": sha, "references": 5}
    card["thresholds"].update(thresholds_for(StoredScores.read(directory / SCORES_FILE), Policy()))
    (directory / CARD_FILE).write_text(json.dumps(card))
    return card


@pytest.fixture
def scored_version(tmp_path, active_version):
    """An inactive version published with validation scores."""
    directory = write_tiny_model(tmp_path / "scored", name="scored", seed=11)
    add_scores(directory)
    version, _ = model_version_register(directory)
    return version


@pytest.fixture
def scored_active_version(tmp_path, active_version, tiny_model_dir):
    """The active tiny model, moved to a directory of its own with validation scores beside it (the row is
    rolled back after the test, the session's model directory is never touched)."""
    directory = tmp_path / "active-copy"
    shutil.copytree(tiny_model_dir, directory)
    card = add_scores(directory)
    ModelVersion.objects.filter(pk=active_version.pk).update(weights_path=str(directory), card=card)
    active_version.refresh_from_db()
    return active_version


def policy_url(version, suffix=""):
    return f"/api/v1/model-versions/{version.pk}/policy/{suffix}"


def put_policy(client, version, **body):
    return client.put(policy_url(version), body, format="json")


def test_get_policy_gives_thresholds_preview_and_sweep(client_for, scored_version):
    body = client_for("ml_staff").get(policy_url(scored_version)).json()
    assert body["far_skilled"] == 0.01 and body["frr"] == 0.01
    assert body["validation_scores"] == {
        "available": True,
        "error": None,
        "references": 5,
        "datasets": {"val": ["cedar", "gpds"], "test": ["cedar", "gpds"]},
    }
    preview = body["preview"]
    assert preview["thresholds"]["accept"] >= preview["thresholds"]["reject"]
    assert set(preview["test_by_dataset"]) == {"cedar", "gpds"}
    assert {"forgeries_accepted", "genuine_rejected", "referred"} <= set(preview["test"])
    assert [row["far_skilled"] for row in body["sweep"]] == list(SWEEP_TARGETS)
    assert body["changes"] == []
    listed = client_for("ml_staff").get(f"/api/v1/model-versions/{scored_version.pk}/").json()
    assert listed["policy"] == {"far_skilled": 0.01, "frr": 0.01}


def test_a_stricter_forgery_target_raises_accept_and_is_audited(client_for, scored_version):
    client = client_for("ml_staff")
    before = client.get(policy_url(scored_version)).json()
    response = put_policy(client, scored_version, far_skilled=0.002, frr=0.01, reason="fraud wave in region 4")
    assert response.status_code == 200, response.json()
    after = response.json()
    assert after["far_skilled"] == 0.002
    assert after["thresholds"]["accept"] > before["thresholds"]["accept"]
    assert after["thresholds"]["reject"] == before["thresholds"]["reject"]  # the genuine target did not move
    assert after["preview"]["test"]["forgeries_accepted"] < before["preview"]["test"]["forgeries_accepted"]
    assert after["preview"]["test"]["referred"] > before["preview"]["test"]["referred"]

    scored_version.refresh_from_db()
    assert scored_version.policy_far_skilled == 0.002
    assert scored_version.accept_threshold == after["thresholds"]["accept"]
    assert scored_version.thresholds["eer"] == 0.5  # the card's EER threshold is kept

    change = PolicyChange.objects.get(model_version=scored_version)
    assert change.changed_by == client.user and change.reason == "fraud wave in region 4"
    assert (change.old_far_skilled, change.old_frr, change.new_far_skilled, change.new_frr) == (0.01, 0.01, 0.002, 0.01)
    assert change.old_thresholds["accept"] == before["thresholds"]["accept"]
    assert change.new_thresholds["accept"] == after["thresholds"]["accept"]
    assert after["changes"][0]["changed_by"] == client.user.username
    assert after["changes"][0]["reason"] == "fraud wave in region 4"


def test_a_looser_genuine_target_raises_reject(client_for, scored_version):
    client = client_for("admin")
    strict = put_policy(client, scored_version, far_skilled=0.01, frr=0.002, reason="fewer stopped cheques").json()
    loose = put_policy(client, scored_version, far_skilled=0.01, frr=0.05, reason="more stopped cheques").json()
    assert loose["thresholds"]["reject"] > strict["thresholds"]["reject"]
    assert loose["preview"]["test"]["genuine_rejected"] > strict["preview"]["test"]["genuine_rejected"]
    assert PolicyChange.objects.filter(model_version=scored_version).count() == 2
    latest = PolicyChange.objects.filter(model_version=scored_version).first()
    assert (latest.old_frr, latest.new_frr) == (0.002, 0.05)


def test_verifications_record_the_thresholds_of_the_policy_in_force(scored_active_version, enrolled_signer, make_user):
    from apps.verifications.services import verification_create

    clerk = make_user("clerk")
    first = verification_create(signer=enrolled_signer, image=upload(signature_bytes(1, 20)), user=clerk)
    assert first.thresholds["accept"] == 0.6  # the row's (the card it was registered with), before any change
    policy_set(scored_active_version, far_skilled=0.003, frr=0.02, reason="audit finding", user=make_user("ml_staff"))
    second = verification_create(signer=enrolled_signer, image=upload(signature_bytes(1, 21)), user=clerk)
    scored_active_version.refresh_from_db()
    assert second.thresholds["accept"] == scored_active_version.accept_threshold != 0.6
    assert second.thresholds["reject"] == scored_active_version.reject_threshold
    first.refresh_from_db()
    assert first.thresholds["accept"] == 0.6  # an earlier decision keeps the thresholds it was made with


@pytest.mark.parametrize(
    "body, fields",
    [
        ({"far_skilled": 0.0001, "frr": 0.01, "reason": "x"}, {"far_skilled"}),
        ({"far_skilled": 0.01, "frr": 0.2, "reason": "x"}, {"frr"}),
        ({"far_skilled": "often", "frr": 0.01, "reason": "x"}, {"far_skilled"}),
        ({"far_skilled": 0.01, "frr": 0.01, "reason": "   "}, {"reason"}),
        ({"far_skilled": 0.01, "frr": 0.01}, {"reason"}),
        ({}, {"far_skilled", "frr", "reason"}),
    ],
)
def test_bad_targets_or_no_reason_are_400_with_field_errors(client_for, scored_version, body, fields):
    response = put_policy(client_for("ml_staff"), scored_version, **body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and set(error["fields"]) == fields
    scored_version.refresh_from_db()
    assert scored_version.policy_far_skilled == 0.01 and not PolicyChange.objects.exists()


def test_the_service_enforces_the_rules_for_every_caller(scored_version, make_user):
    from apps.core.exceptions import ServiceError

    with pytest.raises(ServiceError) as caught:
        policy_set(scored_version, far_skilled=0.5, frr=0.01, reason="", user=make_user("admin"))
    assert set(caught.value.fields) == {"far_skilled", "reason"}
    assert not PolicyChange.objects.exists()


@pytest.mark.parametrize("role", ["clerk", "integrator"])
def test_clerks_and_integrators_may_neither_read_nor_change_the_policy(client_for, scored_version, role):
    client = client_for(role)
    assert client.get(policy_url(scored_version)).status_code == 403
    assert client.get(policy_url(scored_version, "preview/"), {"far_skilled": 0.005}).status_code == 403
    response = put_policy(client, scored_version, far_skilled=0.005, frr=0.01, reason="try")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    assert not PolicyChange.objects.exists()


def test_the_permission_decides_not_the_group_name(client_for, make_user, scored_version):
    # A user in no group, given the permissions directly, may change the policy ...
    user = make_user()
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="modelregistry", codename__in=["view_modelversion", "change_operating_policy"]
        )
    )
    response = put_policy(client_for(user=user), scored_version, far_skilled=0.005, frr=0.01, reason="direct grant")
    assert response.status_code == 200
    # ... and one who may only read model versions may not.
    reader = make_user()
    reader.user_permissions.add(
        Permission.objects.get(content_type__app_label="modelregistry", codename="view_modelversion")
    )
    client = client_for(user=reader)
    assert client.get(policy_url(scored_version)).status_code == 200
    assert put_policy(client, scored_version, far_skilled=0.005, frr=0.01, reason="x").status_code == 403


def test_preview_shows_what_a_policy_would_do_without_applying_it(client_for, scored_version):
    client = client_for("ml_staff")
    current = client.get(policy_url(scored_version, "preview/")).json()
    assert current["policy"] == {"far_skilled": 0.01, "frr": 0.01}
    strict = client.get(policy_url(scored_version, "preview/"), {"far_skilled": "0.005", "frr": "0.01"}).json()
    assert strict["policy"] == {"far_skilled": 0.005, "frr": 0.01}
    assert strict["thresholds"]["accept"] > current["thresholds"]["accept"]
    assert strict["test"]["forgeries_accepted"] <= current["test"]["forgeries_accepted"]
    assert strict["test"]["referred"] >= current["test"]["referred"]
    scored_version.refresh_from_db()
    assert scored_version.policy_far_skilled == 0.01 and not PolicyChange.objects.exists()

    bad = client.get(policy_url(scored_version, "preview/"), {"far_skilled": "0.5", "frr": "x"})
    assert bad.status_code == 400 and set(bad.json()["error"]["fields"]) == {"far_skilled", "frr"}


def test_a_version_without_validation_scores_keeps_its_card_thresholds(client_for, active_version):
    client = client_for("ml_staff")
    state = client.get(policy_url(active_version)).json()
    assert state["validation_scores"]["available"] is False
    assert state["validation_scores"]["error"]["code"] == "no_validation_scores"
    assert state["preview"] is None and state["sweep"] == []
    assert state["thresholds"] == {"eer": 0.5, "accept": 0.6, "reject": 0.4}

    response = put_policy(client, active_version, far_skilled=0.005, frr=0.01, reason="try")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "no_validation_scores" and "sigverify publish" in error["message"]
    assert client.get(policy_url(active_version, "preview/")).json()["error"]["code"] == "no_validation_scores"
    active_version.refresh_from_db()
    assert active_version.thresholds == {"eer": 0.5, "accept": 0.6, "reject": 0.4}
    assert not PolicyChange.objects.exists()


def test_damaged_or_foreign_scores_are_refused(client_for, scored_version):
    client = client_for("ml_staff")
    path = f"{scored_version.weights_path}/{SCORES_FILE}"
    data = json.loads(open(path).read())
    data["splits"]["val"]["cedar"]["skilled"][0] = 0.99999
    open(path, "w").write(json.dumps(data))
    response = put_policy(client, scored_version, far_skilled=0.005, frr=0.01, reason="x")
    assert response.status_code == 409 and "sha256" in response.json()["error"]["message"]

    # Scores of other weights, even with a matching file hash in the card, are not this version's.
    foreign = synthetic_scores("ff" * 32)
    card = dict(
        scored_version.card,
        scores={"file": SCORES_FILE, "sha256": foreign.write(scored_version.weights_path), "references": 5},
    )
    ModelVersion.objects.filter(pk=scored_version.pk).update(card=card)
    response = put_policy(client, scored_version, far_skilled=0.005, frr=0.01, reason="x")
    assert response.status_code == 409 and "other weights" in response.json()["error"]["message"]


def test_registration_takes_the_policy_from_the_card(tmp_path, active_version):
    directory = write_tiny_model(tmp_path / "m", name="strict", seed=12)
    card = json.loads((directory / CARD_FILE).read_text())
    card["thresholds"].update(accept_far_skilled=0.005, reject_frr=0.02)
    (directory / CARD_FILE).write_text(json.dumps(card))
    version, _ = model_version_register(directory)
    assert (version.policy_far_skilled, version.policy_frr) == (0.005, 0.02)


# --- the Django admin --------------------------------------------------------------------


@pytest.fixture
def admin_client_for(client, make_user):
    def _login(*roles, **extra):
        user = make_user(*roles, is_staff=True, **extra)
        client.force_login(user)
        client.user = user
        return client

    return _login


def test_admin_changes_the_policy_through_an_audited_form(admin_client_for, scored_version):
    client = admin_client_for("admin")
    page = client.get(f"/admin/modelregistry/policychange/add/?model_version={scored_version.pk}")
    assert page.status_code == 200 and b'value="0.01"' in page.content
    response = client.post(
        "/admin/modelregistry/policychange/add/",
        {
            "model_version": scored_version.pk,
            "new_far_skilled": "0.004",
            "new_frr": "0.01",
            "reason": "board decision",
        },
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    change = PolicyChange.objects.get()
    assert change.changed_by == client.user and change.new_far_skilled == 0.004 and change.reason == "board decision"
    scored_version.refresh_from_db()
    assert scored_version.policy_far_skilled == 0.004
    assert scored_version.accept_threshold == change.new_thresholds["accept"] > change.old_thresholds["accept"]
    # The audit row is read-only and cannot be deleted; the version page lists it.
    detail = client.get(f"/admin/modelregistry/policychange/{change.pk}/change/")
    assert detail.status_code == 200 and b"board decision" in detail.content and b'name="reason"' not in detail.content
    assert client.post(f"/admin/modelregistry/policychange/{change.pk}/delete/", {"post": "yes"}).status_code == 403
    assert b"board decision" in client.get(f"/admin/modelregistry/modelversion/{scored_version.pk}/change/").content


def test_admin_form_refuses_bad_targets_a_missing_reason_and_missing_scores(
    admin_client_for, scored_version, active_version
):
    client = admin_client_for("admin")
    bad = client.post(
        "/admin/modelregistry/policychange/add/",
        {
            "model_version": scored_version.pk,
            "new_far_skilled": "0.2",
            "new_frr": "0.01",
            "reason": " ",
        },
    )
    assert bad.status_code == 200 and b"between 0.001 and 0.05" in bad.content and b"required" in bad.content
    unscored = client.post(
        "/admin/modelregistry/policychange/add/",
        {
            "model_version": active_version.pk,
            "new_far_skilled": "0.005",
            "new_frr": "0.01",
            "reason": "x",
        },
    )
    assert unscored.status_code == 200 and b"without validation scores" in unscored.content
    assert not PolicyChange.objects.exists()


def test_admin_policy_form_needs_the_permission(admin_client_for, scored_version):
    client = admin_client_for("clerk")
    assert client.get("/admin/modelregistry/policychange/add/").status_code == 403
