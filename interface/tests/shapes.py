"""Answers in the real API's shapes, for the fake API (which checks each one against the schema).

Each function returns one complete answer as the backend would send it; keyword arguments
change fields. Permissions per role come from the backend's own table, so ``/auth/me/`` here
answers what the real one answers for that role.
"""

from __future__ import annotations

import copy
from typing import Any

from apps.accounts.roles import ADMIN, ROLE_PERMISSIONS

WHEN = "2026-11-22T01:00:00Z"


def permissions_of(*roles: str) -> list[str]:
    """What ``/auth/me/`` lists for a user in these groups (admin: every role's permissions)."""
    held = set()
    for role in roles:
        for permission in (
            ROLE_PERMISSIONS.get(role, [])
            if role != ADMIN
            else [p for perms in ROLE_PERMISSIONS.values() for p in perms]
        ):
            held.add(permission)
    return sorted(held)


def me(*roles: str, username: str = "clara", permissions: list[str] | None = None, **change) -> dict:
    return {
        "id": 1,
        "username": username,
        "full_name": "",
        "roles": list(roles),
        "permissions": permissions_of(*roles) if permissions is None else permissions,
        "is_staff": False,
        **change,
    }


def page(rows: list, next: str | None = None, previous: str | None = None, count: int | None = None) -> dict:
    return {"count": len(rows) if count is None else count, "next": next, "previous": previous, "results": rows}


def signer(id: int = 4, external_id: str = "ACC-1", full_name: str = "Ann Smith", **change) -> dict:
    return {
        "id": id,
        "external_id": external_id,
        "full_name": full_name,
        "status": "active",
        "reference_count": 3,
        "pending_reference_count": 0,
        "created_at": WHEN,
        "updated_at": WHEN,
        **change,
    }


def reference(id: int, signer: int = 4, external_id: str = "ACC-1", original_name: str | None = None, **change) -> dict:
    url = f"http://testserver/api/v1/signers/{external_id}/references/{id}"
    return {
        "id": id,
        "signer": signer,
        "sha256": f"{id:064x}",
        "original_name": original_name or f"ref{id}.png",
        "content_type": "image/png",
        "quality": quality(),
        "model_versions": [1],
        "status": "active",
        "flag": None,
        "source": "signature_card",
        "source_verification_id": None,
        "enrolled_by": "ivan",
        "created_at": WHEN,
        "reviewed_by": None,
        "reviewed_at": None,
        "image_url": f"{url}/image/",
        "preprocessed_url": f"{url}/preprocessed/",
        **change,
    }


def quality() -> dict:
    return {
        "width": 120,
        "height": 60,
        "ink_fraction": 0.05,
        "ink_box": [10, 12, 100, 40],
        "threshold": 180.0,
        "paper_level": 250.0,
        "checks_failed": [],
        "descreened": False,
        "printed_removed": 0,
        "preprocess_version": "3",
    }


def rejection(filename: str, code: str, message: str) -> dict:
    return {"filename": filename, "code": code, "message": message}


def flag(score: float = 0.01, compared_with: int = 3) -> dict:
    return {
        "code": "inconsistent_reference",
        "message": f"Far from this signer's other references: score {score:.3f} against {compared_with}.",
        "score": score,
        "reject_threshold": 0.2,
        "compared_with": compared_with,
        "model_version": "m1",
    }


def upload_result(accepted: list[dict], rejected: list[dict], flagged: list[dict] | None = None) -> dict:
    return {"accepted": accepted, "flagged": flagged or [], "rejected": rejected}


def review(final_decision: str = "genuine", comment: str = "", reviewer: str = "clara", **change) -> dict:
    return {
        "final_decision": final_decision,
        "comment": comment,
        "reviewer": reviewer,
        "created_at": WHEN,
        "reference_growth": None,
        **change,
    }


def verification(
    id: int = 9, decision: str = "genuine", score: float = 0.91, review: dict | None = None, **change
) -> dict:
    url = f"http://testserver/api/v1/verifications/{id}"
    return {
        "id": id,
        "signer": 4,
        "signer_external_id": "ACC-1",
        "signer_name": "Ann Smith",
        "decision": decision,
        "reason": None,
        "score": score,
        "z_score": -1.0,
        "distances": [
            {"reference": 12, "distance": 0.41},
            {"reference": 11, "distance": 0.12},
            {"reference": 13, "distance": 0.3},
        ],
        "thresholds": {"accept": 0.7, "reject": 0.35, "eer": 0.5},
        "reference_count": 3,
        "scoring": "writer_independent",
        "model_version": "sigverify-resnet18",
        "model_version_id": 1,
        "cheque_reference": "",
        "crop": None,
        "image_sha256": "ab" * 32,
        "quality": quality(),
        "requested_by": "clara",
        "created_at": WHEN,
        "processing_ms": 42,
        "batch": None,
        "review": review,
        "image_url": f"{url}/image/",
        "preprocessed_url": f"{url}/preprocessed/",
        **change,
    }


def quality_reason(*checks: str) -> dict:
    return {
        "code": "image_quality",
        "checks": list(checks),
        "message": "The image cannot be judged reliably: the signature runs over the edge of the box.",
    }


def evaluation(references: int, writers: int, skilled_eer: float, at_threshold: dict | None = None) -> dict:
    figures = {
        "writers": writers,
        "references": references,
        "genuine_queries": 10 * writers,
        "skilled_queries": 10 * writers,
        "random_queries": 10 * writers,
        "skilled": {"eer": skilled_eer, "auc": 1 - skilled_eer, "eer_threshold": 0.6},
        "random": {"eer": skilled_eer / 4, "auc": 0.99},
        "user_threshold_eer_skilled": skilled_eer * 0.9,
        "threshold": 0.5,
    }
    if at_threshold:
        figures["at_threshold"] = at_threshold
    return figures


def card(
    name: str = "sigverify-resnet18", validation: dict | None = None, held_out: dict | None = None, **change
) -> dict:
    """A model card as ``sigverify.card.ModelCard`` reads it (the shipped card has this shape)."""
    metrics: dict[str, Any] = {"validation": validation or {}}
    if held_out is not None:
        metrics["held_out"] = held_out
        metrics["held_out_split"] = {"split": "test", "split_file": "splits.csv"}
    return {
        "name": name,
        "version": "20261121-100000",
        "architecture": "Siamese ResNet18",
        "input_size": [128, 192],
        "embedding_dim": 256,
        "preprocess_version": "3",
        "weights_file": "model.safetensors",
        "sha256": "ab" * 32,
        "scoring": {
            "prior_mean": 0.25,
            "prior_std": 0.09,
            "prior_pairs": 3.0,
            "min_std": 0.04,
            "coef": 1.1,
            "intercept": 1.9,
        },
        "thresholds": {"eer": 0.5, "accept": 0.7, "reject": 0.35},
        "metrics": metrics,
        "data": {"datasets": ["organized_data/cedar"], "writers": {}},
        "plots": [],
        **change,
    }


def model_version(id: int, name: str, is_active: bool = False, card_: dict | None = None, **change) -> dict:
    card_ = copy.deepcopy(card_ if card_ is not None else card(name))
    return {
        "id": id,
        "name": name,
        "sha256": card_["sha256"],
        "is_active": is_active,
        "thresholds": card_["thresholds"],
        "policy": {"far_skilled": 0.01, "frr": 0.01},
        "metrics": card_["metrics"],
        "input_size": card_["input_size"],
        "card": card_,
        "created_at": "2026-11-21T10:00:00Z",
        **change,
    }


def brief(id: int, name: str, is_active: bool = False) -> dict:
    return {"id": id, "name": name, "is_active": is_active}


def promotion(id: int, status: str, version: dict, total: int = 40, done: int = 0, error: str = "") -> dict:
    return {
        "id": id,
        "status": status,
        "model_version": version,
        "previous_version": None,
        "requested_by": "mo",
        "total": total,
        "done": done,
        "heartbeat_at": None,
        "error": error,
        "created_at": WHEN,
        "started_at": None,
        "finished_at": None,
    }


def progress(
    epoch: int = 0,
    epochs: int = 10,
    loss: float | None = None,
    val_eer: float | None = None,
    images_per_s: float | None = None,
    heartbeat_at: str | None = None,
) -> dict:
    return {
        "epoch": epoch,
        "epochs": epochs,
        "loss": loss,
        "val_eer": val_eer,
        "images_per_s": images_per_s,
        "heartbeat_at": heartbeat_at,
    }


def training_job(
    id: int,
    status: str = "queued",
    epochs: int = 10,
    loss: str = "triplet-semihard",
    progress_: dict | None = None,
    model_version: dict | None = None,
    **change,
) -> dict:
    return {
        "id": id,
        "status": status,
        "requested_by": "mo",
        "datasets": ["cedar"],
        "include_references": True,
        "include_reviewed": True,
        "epochs": epochs,
        "loss": loss,
        "seed": 0,
        "options": {},
        "progress": progress_ or progress(epochs=epochs),
        "history": [],
        "cancel_requested": False,
        "log_tail": "",
        "data_summary": {},
        "error": "",
        "worker": "",
        "created_at": WHEN,
        "started_at": None,
        "finished_at": None,
        "model_version": model_version,
        **change,
    }


def _policy_scores():
    """Calibrated validation and test scores of two datasets, as `sigverify publish` stores them."""
    import numpy as np

    from sigverify.policy import StoredScores

    rng = np.random.default_rng(0)

    def kinds(shift):
        return {"genuine": rng.beta(8 + shift, 2, 300), "skilled": rng.beta(3, 4, 300), "random": rng.beta(1, 8, 300)}

    return StoredScores(5, {split: {"cedar": kinds(0), "gpds": kinds(2)} for split in ("val", "test")}, "ab" * 32)


def policy_preview(far_skilled: float = 0.01, frr: float = 0.01) -> dict:
    """What ``GET model-versions/{id}/policy/preview/`` answers: computed by sigverify.policy itself."""
    from sigverify.policy import Policy, preview

    return preview(_policy_scores(), Policy(far_skilled, frr))


def policy_change(
    id: int = 1,
    old: tuple = (0.01, 0.01),
    new: tuple = (0.005, 0.01),
    reason: str = "fraud wave",
    changed_by: str = "mo",
) -> dict:
    before, after = policy_preview(*old)["thresholds"], policy_preview(*new)["thresholds"]
    return {
        "id": id,
        "changed_by": changed_by,
        "changed_at": WHEN,
        "reason": reason,
        "old_far_skilled": old[0],
        "old_frr": old[1],
        "old_thresholds": {"eer": 0.5, **before},
        "new_far_skilled": new[0],
        "new_frr": new[1],
        "new_thresholds": {"eer": 0.5, **after},
    }


def policy_state(
    version_id: int,
    far_skilled: float = 0.01,
    frr: float = 0.01,
    scores: bool = True,
    changes: list[dict] | None = None,
) -> dict:
    """What ``GET model-versions/{id}/policy/`` answers; ``scores=False``: a version published without them."""
    from sigverify.policy import sweep

    state = {"model_version": version_id, "far_skilled": far_skilled, "frr": frr, "changes": changes or []}
    if not scores:
        return {
            **state,
            "thresholds": {"eer": 0.5, "accept": 0.7, "reject": 0.35},
            "validation_scores": {
                "available": False,
                "references": None,
                "datasets": {},
                "error": {
                    "code": "no_validation_scores",
                    "message": "Model version v1 was published without validation "
                    "scores (no scores.json beside its card), so its policy "
                    "cannot be changed.",
                },
            },
            "preview": None,
            "sweep": [],
        }
    current = policy_preview(far_skilled, frr)
    return {
        **state,
        "thresholds": {"eer": 0.5, **current["thresholds"]},
        "validation_scores": {
            "available": True,
            "error": None,
            "references": 5,
            "datasets": {"val": ["cedar", "gpds"], "test": ["cedar", "gpds"]},
        },
        "preview": current,
        "sweep": sweep(_policy_scores(), frr=frr),
    }


# -- bank accounts, mandates and cheques ------------------------------------------------------


def signatory(id: int = 1, signer: str = "DIR-1", signer_name: str = "Director 1", group: str = "A", **change) -> dict:
    return {
        "id": id,
        "signer": signer,
        "signer_name": signer_name,
        "signer_status": "active",
        "group": group,
        "limit": None,
        "valid_from": None,
        "valid_until": None,
        **change,
    }


def mandate(words: list[str] | None = None, bands: list | None = None, reason: str = "board resolution") -> dict:
    return {
        "id": 1,
        "bands": bands or [{"up_to": None, "any_of": [[{"group": "A", "count": 2}]]}],
        "words": words or ["Any amount: 2 of group A"],
        "reason": reason,
        "changed_by": "ivy",
        "changed_at": WHEN,
        "previous_bands": None,
    }


def account(number: str = "12345678", name: str = "Example Trading Ltd", signatories=None, mandate_=None, **change):
    rows = signatories if signatories is not None else [signatory(i, f"DIR-{i}", f"Director {i}") for i in (1, 2, 3)]
    return {
        "number": number,
        "name": name,
        "status": "active",
        "always_refer": False,
        "instruction": "",
        "signatory_count": len(rows),
        "signatories": rows,
        "mandate": mandate_,
        "created_at": WHEN,
        "updated_at": WHEN,
        **change,
    }


def candidate(signer: str = "DIR-1", score: float = 0.95, decision: str = "genuine", references=(12, 11)) -> dict:
    return {
        "signer": signer,
        "name": f"Director {signer[-1]}",
        "score": score,
        "decision": decision,
        "references": list(references),
    }


def cheque(id: int = 1, decision: str = "refer", signatures=None, reasons=None, **change) -> dict:
    return {
        "id": id,
        "decision": decision,
        "signatures": signatures
        if signatures is not None
        else [
            {
                "box": [60, 20, 80, 30],
                "signer": "DIR-1",
                "decision": "genuine",
                "score": 0.95,
                "candidates": [candidate()],
            }
        ],
        "mandate": {
            "band": 0,
            "satisfied": None,
            "reasons": reasons if reasons is not None else ["needs 2 of group A, found 1"],
        },
        "account": "12345678",
        "account_name": "Example Trading Ltd",
        "instruction": "",
        "amount": "250.00",
        "cheque_date": "2026-12-01",
        "cheque_reference": "CHQ-1",
        "thresholds": {"accept": 0.9189308, "reject": 0.0547402, "eer": 0.6},
        "model_version": "m1",
        "requested_by": "clara",
        "created_at": WHEN,
        "processing_ms": 40,
        "reviews": [],
        "image_url": "http://testserver/api/v1/cheques/1/image/",
        **change,
    }
