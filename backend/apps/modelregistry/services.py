"""Registering model directories as versions, switching the active one, and promotion
(preparing a version for service on a worker, then switching to it)."""

from __future__ import annotations

import logging
import os
import shutil
from functools import partial
from pathlib import Path

from django.conf import settings
from django.db import transaction

from apps.core import jobs
from apps.core.exceptions import Conflict, ServiceError
from sigverify.card import ModelCard
from sigverify.errors import ModelLoadError
from sigverify.policy import DEFAULT_TARGET, Policy, thresholds_for
from sigverify.weights import sha256_file

from .models import ModelVersion, PolicyChange, Promotion
from .promotion import activate_version, references_to_prepare
from .selectors import policy_of, validation_scores

logger = logging.getLogger(__name__)


def _version_name(card: ModelCard, sha256: str) -> str:
    name = f"{card.name}-{card.version}" if card.version else card.name
    return f"{name}-{sha256[:8]}"


@transaction.atomic
def model_version_register(path, activate: bool = False, name: str | None = None) -> tuple[ModelVersion, bool]:
    """Register the model in ``path`` (card + safetensors). Idempotent by sha256.

    Returns (version, created). The card must be a valid ``ModelCard`` (``CardError``, a
    ``ModelLoadError``, says what is wrong) and the file's hash must match it: a damaged model
    is never registered. With ``activate`` the version becomes the active one.
    """
    path = Path(path).resolve()
    model_card = ModelCard.read(path)
    weights = path / model_card.weights_file
    if not weights.is_file():
        raise ModelLoadError(f"weights file missing: {weights}")
    sha256 = sha256_file(weights)
    if model_card.sha256 != sha256:
        raise ModelLoadError(f"sha256 mismatch for {weights}: card says {model_card.sha256}, file is {sha256}")

    version = ModelVersion.objects.filter(sha256=sha256).order_by("id").first()
    created = version is None
    if created:
        card = model_card.to_dict()  # NaN as null: PostgreSQL's jsonb refuses NaN (a history can hold one)
        thresholds = model_card.thresholds
        policy = Policy(
            far_skilled=thresholds.accept_far_skilled or DEFAULT_TARGET, frr=thresholds.reject_frr or DEFAULT_TARGET
        )
        if policy.errors():
            policy = Policy()  # a card from outside the allowed range still starts at the default policy
        version = ModelVersion.objects.create(
            name=name or _version_name(model_card, sha256),
            weights_path=str(path),
            sha256=sha256,
            card=card,
            metrics=card.get("metrics", {}),
            thresholds=card["thresholds"],
            policy_far_skilled=policy.far_skilled,
            policy_frr=policy.frr,
            is_active=False,
        )
    if activate and not version.is_active:
        activate_version(version)
    return version, created


@transaction.atomic
def model_dir_keep_copy(directory) -> Path:
    """A copy of a model dir in ``SIGVERIFY_MODELS_ROOT/shipped-<sha256[:12]>/`` (``.part`` then rename).

    A version registered from the copy keeps its own files: shipping new weights into the same
    folder later cannot break the version that is serving.
    """
    directory = Path(directory)
    card = ModelCard.read(directory)
    sha256 = sha256_file(directory / card.weights_file)
    target = Path(settings.SIGVERIFY_MODELS_ROOT) / f"shipped-{sha256[:12]}"
    if (target / card.weights_file).is_file() and sha256_file(target / card.weights_file) == sha256:
        return target
    part = target.with_name(target.name + ".part")
    shutil.rmtree(part, ignore_errors=True)
    shutil.copytree(directory, part, ignore=shutil.ignore_patterns("*.part", "README.md"))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(part, target)
    return target


def model_version_serves_its_own_weights(version: ModelVersion) -> bool:
    """False when the version's weights file is gone or no longer matches its sha256."""
    weights = Path(version.weights_path) / version.model_card.weights_file
    return weights.is_file() and sha256_file(weights) == version.sha256


# --- promotion ----------------------------------------------------------------------------


def promotion_start(*, version: ModelVersion, requested_by) -> Promotion:
    """Queue the preparation of ``version`` (re-embedding every reference); it becomes active when done."""
    if ModelVersion.objects.filter(pk=version.pk, is_active=True).exists():
        raise Conflict(f"model version {version.name} is already active", code="already_active")
    jobs.end_stale(Promotion)  # a promotion whose worker died must not block the next one
    busy = Promotion.objects.filter(status__in=(Promotion.Status.QUEUED, Promotion.Status.RUNNING)).first()
    if busy:
        raise Conflict(
            f"promotion {busy.pk} of {busy.model_version.name} is still {busy.status}; wait for it to end",
            code="promotion_in_progress",
        )
    with transaction.atomic():
        promotion = Promotion.objects.create(
            model_version=version, requested_by=requested_by, total=references_to_prepare()
        )
        transaction.on_commit(partial(jobs.enqueue, Promotion, promotion.pk))
    promotion.refresh_from_db()
    return promotion


# --- operating policy -------------------------------------------------------------------


def policy_validate_change(version: ModelVersion, *, far_skilled, frr, reason: str) -> tuple[Policy, dict]:
    """(policy, its thresholds), or ``ServiceError`` (400, field errors) / ``Conflict`` (409, no scores)."""
    policy = Policy(far_skilled=far_skilled, frr=frr)
    fields = policy.errors()
    if not (reason or "").strip():
        fields["reason"] = ["A reason is required: it is kept in the audit trail."]
    if fields:
        raise ServiceError("The policy is not valid.", code="validation_error", fields=fields)
    return policy, thresholds_for(validation_scores(version), policy)


@transaction.atomic
def policy_set(version: ModelVersion, *, far_skilled, frr, reason: str, user) -> PolicyChange:
    """Change ``version``'s operating policy; its ``accept``/``reject`` follow at once (audited).

    The thresholds are computed from the version's stored validation scores; the audit row keeps who,
    when, why and the old and new targets and thresholds. Verifications decided after this use the new
    thresholds (each verification row records the ones it was decided with).
    """
    locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
    policy, computed = policy_validate_change(locked, far_skilled=far_skilled, frr=frr, reason=reason)
    old_policy, old_thresholds = policy_of(locked), dict(locked.thresholds or {})
    new_thresholds = {**old_thresholds, **computed}
    ModelVersion.objects.filter(pk=locked.pk).update(
        thresholds=new_thresholds, policy_far_skilled=policy.far_skilled, policy_frr=policy.frr
    )
    version.thresholds, version.policy_far_skilled, version.policy_frr = new_thresholds, policy.far_skilled, policy.frr
    return PolicyChange.objects.create(
        model_version=locked,
        changed_by=user,
        reason=reason.strip(),
        old_far_skilled=old_policy.far_skilled,
        old_frr=old_policy.frr,
        old_thresholds=old_thresholds,
        new_far_skilled=policy.far_skilled,
        new_frr=policy.frr,
        new_thresholds=new_thresholds,
    )
