"""Promotion as the worker runs it: prepare a version for service (re-embed every reference), then
switch to it. ``tasks`` imports this module; ``services`` queues the task and imports this too,
so the import graph runs one way: services -> tasks -> promotion."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from apps.core import jobs

from .models import ModelVersion, Promotion
from .preparation import preparations
from .runtime import prepare_worker_process

logger = logging.getLogger(__name__)


def activate_version(version: ModelVersion) -> ModelVersion:
    """Make ``version`` the only active one, in one transaction (the constraint allows one)."""
    locked = list(ModelVersion.objects.select_for_update().filter(is_active=True))
    for other in locked:
        if other.pk != version.pk:
            ModelVersion.objects.filter(pk=other.pk).update(is_active=False)
    ModelVersion.objects.filter(pk=version.pk).update(is_active=True)
    version.is_active = True
    return version


class _PromotionStopped(Exception):
    pass


def references_to_prepare() -> int:
    """What a promotion prepares: every preparation's count (references to embed, ...)."""
    return sum(p.total() for p in preparations())


def _done(version) -> int:
    return sum(p.done(version) for p in preparations())


def _missing(version) -> dict[str, set[int]]:
    missing = {p.name: set(p.missing(version)) for p in preparations()}
    return {name: ids for name, ids in missing.items() if ids}


def run_promotion(promotion_pk: int) -> str:
    """The body of the promotion task. Idempotent: what is prepared already is kept, not redone."""
    now = timezone.now()
    if not jobs.transition(Promotion, promotion_pk, Promotion.Status.RUNNING, started_at=now, heartbeat_at=now):
        return "skipped"
    prepare_worker_process()
    version = Promotion.objects.select_related("model_version").get(pk=promotion_pk).model_version

    def progress(_done_now=0, _total_now=0) -> None:
        # Progress doubles as the heartbeat; a promotion failed as stale meanwhile stops here.
        if not Promotion.objects.filter(pk=promotion_pk, status=Promotion.Status.RUNNING).update(
            done=_done(version), heartbeat_at=timezone.now()
        ):
            raise _PromotionStopped()

    try:
        unpreparable = None
        for _attempt in range(5):
            Promotion.objects.filter(pk=promotion_pk).update(total=references_to_prepare())
            for preparation in preparations():
                preparation.prepare(version, progress)
            progress()
            with transaction.atomic():
                # Activate only if nothing is missing, checked in the switch's transaction.
                list(ModelVersion.objects.select_for_update().filter(is_active=True))
                missing = _missing(version)
                if missing:
                    if missing == unpreparable:
                        raise ValueError(
                            "; ".join(
                                f"{name}: {len(ids)} cannot be made with {version.name} (ids {sorted(ids)[:20]})"
                                for name, ids in missing.items()
                            )
                            + "; remove or replace those items, then promote again"
                        )
                    unpreparable = missing  # or added meanwhile (a reference enrolled): try them once more
                    continue
                previous = ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).first()
                activate_version(version)
                if not jobs.finish(
                    Promotion,
                    promotion_pk,
                    Promotion.Status.SUCCEEDED,
                    done=_done(version),
                    total=references_to_prepare(),
                    previous_version=previous,
                    heartbeat_at=timezone.now(),
                ):
                    raise RuntimeError("the promotion was marked failed while switching; the switch is rolled back")
            return "succeeded"
        raise RuntimeError("references kept being enrolled during the promotion; promote again")
    except _PromotionStopped:
        return "stopped"
    except Exception as exc:
        logger.exception("promotion %s failed", promotion_pk)
        jobs.finish(Promotion, promotion_pk, Promotion.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        return "failed"
