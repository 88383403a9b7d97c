from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.db.models import QuerySet, TextField
from django.db.models.functions import MD5, Cast

from apps.core.exceptions import Conflict
from sigverify.card import CardError
from sigverify.policy import Policy, ScoresFileError, StoredScores, preview, scores_for_card, sweep

from .models import ModelVersion, PolicyChange, Promotion
from .serving import load_state, loaded_versions

POLICY_HISTORY = 20  # changes shown with a policy


def get_active_version() -> ModelVersion | None:
    """The active version: one indexed query of its small fields, cheap enough to run on every request.

    Its ``card`` and ``metrics`` (tens of kB of JSON) are not sent: the database gives their MD5,
    and the decoded JSON (and the parsed card) comes from this process's cache, read in full only
    when that MD5 is new here. Sending and decoding the JSON on every request cost more than the
    rest of the query. The row is read each time, so a promotion, a policy change or another card
    is seen at once."""
    version = (
        ModelVersion.objects.filter(is_active=True)
        .defer("card", "metrics")
        .annotate(card_md5=MD5(Cast("card", TextField())), metrics_md5=MD5(Cast("metrics", TextField())))
        .first()
    )
    if version is not None:
        # set as loaded (no deferred read). Shared with the other rows read since: read them, never
        # change them in place (nothing does; a registered card does not change)
        version.card, version.metrics, model_card = _decoded(version.pk, version.card_md5, version.metrics_md5)
        if model_card is not None:  # else ``model_card`` raises its CardError where it is used, as before
            version.__dict__["model_card"] = model_card
        del version.card_md5, version.metrics_md5
    return version


@lru_cache(maxsize=4)
def _decoded(pk: int, card_md5: str | None, metrics_md5: str | None) -> tuple:
    """(card, metrics, the parsed card or None where it does not parse) of version ``pk``, read once
    per content (the MD5s) in this process."""
    row = ModelVersion.objects.filter(pk=pk).values("name", "card", "metrics").first() or {}
    card, metrics = row.get("card") or {}, row.get("metrics") or {}
    try:
        model_card = ModelVersion(name=row.get("name", ""), card=card).model_card
    except CardError:
        model_card = None
    return card, metrics, model_card


def model_version_list() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.all()


def promotion_list() -> QuerySet[Promotion]:
    """Read only: a promotion whose worker died shows as failed through ``Promotion.as_seen()``."""
    return Promotion.objects.select_related("requested_by", "model_version", "previous_version")


def model_state() -> dict:
    """The model part of the health report: the active version and whether this process can serve it."""
    try:
        version = get_active_version()
    except Exception as exc:
        return {"ok": False, "state": "unknown", "error": f"cannot read model versions: {exc}"}
    state = load_state(version)
    return {
        "ok": state["state"] in ("loaded", "not_loaded"),
        "state": state["state"],
        "error": state.get("error"),
        "active_version": version.name if version else None,
        "active_version_id": version.pk if version else None,
        "sha256": version.sha256 if version else None,
        "thresholds": version.thresholds if version else None,
        "inference_precision": state.get("precision", settings.SIGVERIFY_INFERENCE_PRECISION),
        # torch-fp32, torch-bf16, onnx-fp32 or onnx-int8 once loaded; until then the configured mode
        "inference": state.get("inference", settings.SIGVERIFY_INFERENCE),
        "inference_reason": state.get("inference_reason"),
        "loaded_versions": loaded_versions(),
    }


def policy_of(version: ModelVersion) -> Policy:
    return Policy(far_skilled=version.policy_far_skilled, frr=version.policy_frr)


def validation_scores(version: ModelVersion) -> StoredScores:
    """The validation and test scores shipped with ``version`` (``scores.json``, checked against the card).

    Raises ``Conflict`` (``no_validation_scores``) when the version has none, or they are damaged or
    belong to other weights: its policy cannot be changed, and it serves the card's thresholds.
    """
    try:
        scores = scores_for_card(version.weights_path, version.model_card)
    except ScoresFileError as exc:
        raise Conflict(
            f"The validation scores of model version {version.name} cannot be used: {exc}. Its policy cannot be "
            "changed; it keeps the thresholds of its model card.",
            code="no_validation_scores",
        ) from exc
    if scores is None:
        raise Conflict(
            f"Model version {version.name} was published without validation scores (no scores.json beside its card), "
            "so its policy cannot be changed; it keeps the thresholds of its model card. Republish the model "
            "with `sigverify publish` to store them.",
            code="no_validation_scores",
        )
    if scores.model_sha256 and scores.model_sha256 != version.sha256:
        raise Conflict(
            f"The validation scores beside model version {version.name} belong to other weights "
            f"({scores.model_sha256[:12]}); its policy cannot be changed.",
            code="no_validation_scores",
        )
    return scores


def policy_preview(version: ModelVersion, policy: Policy) -> dict:
    """What ``policy`` would do: its thresholds (validation writers) and outcome on the test writers."""
    return preview(validation_scores(version), policy)


def policy_changes(version: ModelVersion) -> QuerySet[PolicyChange]:
    return PolicyChange.objects.filter(model_version=version).select_related("changed_by")


def policy_state(version: ModelVersion) -> dict:
    """The version's policy, the thresholds in force, and (with stored scores) its preview and the sweep."""
    policy = policy_of(version)
    state = {
        "model_version": version.pk,
        "far_skilled": policy.far_skilled,
        "frr": policy.frr,
        "thresholds": version.thresholds,
        "validation_scores": {"available": False, "error": None, "references": None, "datasets": {}},
        "preview": None,
        "sweep": [],
        "changes": list(policy_changes(version)[:POLICY_HISTORY]),
    }
    try:
        scores = validation_scores(version)
    except Conflict as exc:
        state["validation_scores"]["error"] = {"code": exc.code, "message": exc.message}
        return state
    state["validation_scores"] = {
        "available": True,
        "error": None,
        "references": scores.references,
        "datasets": {split: scores.datasets(split) for split in ("val", "test")},
    }
    state["preview"] = preview(scores, policy)
    state["sweep"] = sweep(scores, frr=policy.frr)
    return state
