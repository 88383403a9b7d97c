from __future__ import annotations

import numpy as np
from django.db.models import Count, Q, QuerySet

from apps.core.exceptions import NotFound

from .models import ReferenceEmbedding, ReferenceSignature, Signer

ACTIVE = ReferenceSignature.Status.ACTIVE
PENDING = ReferenceSignature.Status.PENDING_REVIEW
REJECTED = ReferenceSignature.Status.REJECTED


def signer_list() -> QuerySet[Signer]:
    """Signers with ``reference_count`` (the references verifications use) and
    ``pending_reference_count`` (flagged ones waiting for a person)."""
    return Signer.objects.annotate(
        reference_count=Count("references", filter=Q(references__status=ACTIVE)),
        pending_reference_count=Count("references", filter=Q(references__status=PENDING)),
    )


def find_signer(key, queryset: QuerySet[Signer] | None = None) -> Signer | None:
    """A signer by external id, or else by numeric id. External ids win: they are the bank's key."""
    queryset = queryset if queryset is not None else Signer.objects.all()
    key = str(key).strip()
    if not key:
        return None
    signer = queryset.filter(external_id=key).first()
    if signer is None and key.isdigit():
        signer = queryset.filter(pk=int(key)).first()
    return signer


def get_signer(key, queryset: QuerySet[Signer] | None = None) -> Signer:
    """``find_signer``, or ``NotFound`` (404, ``signer_not_found``): the same answer in every route
    and batch item."""
    signer = find_signer(key, queryset)
    if signer is None:
        raise NotFound(f"No signer with id or external id {str(key).strip()!r}.", code="signer_not_found")
    return signer


def reference_list(signer: Signer, status: str | None = None) -> QuerySet[ReferenceSignature]:
    references = signer.references.select_related("enrolled_by", "reviewed_by", "signer").prefetch_related("embeddings")
    return references.filter(status=status) if status else references


def active_reference_count(signer: Signer) -> int:
    return signer.references.filter(status=ACTIVE).count()


def reference_embeddings(signer: Signer, model_version) -> tuple[list[int], np.ndarray]:
    """(reference ids, (R, D) float32 matrix) of the signer's active references under ``model_version``:
    what a verification compares with. Flagged (pending review) and rejected references are left out."""
    rows = list(
        ReferenceEmbedding.objects.filter(
            reference__signer=signer, reference__status=ACTIVE, model_version=model_version
        )
        .order_by("reference_id")
        .values_list("reference_id", "vector")
    )
    if not rows:
        return [], np.zeros((0, 0), dtype=np.float32)
    ids = [r[0] for r in rows]
    matrix = np.stack([np.frombuffer(bytes(r[1]), dtype=np.float32) for r in rows])
    return ids, matrix


def reference_embedding_vector(reference: ReferenceSignature, model_version) -> np.ndarray | None:
    row = ReferenceEmbedding.objects.filter(reference=reference, model_version=model_version).first()
    return row.as_array() if row else None


def embeddable_references() -> QuerySet[ReferenceSignature]:
    """References a model version must embed before it serves: active ones and flagged ones (a person
    may accept those later); rejected ones never serve."""
    return ReferenceSignature.objects.exclude(status=REJECTED)


def reference_count() -> int:
    return embeddable_references().count()


def embedded_reference_count(model_version) -> int:
    return ReferenceEmbedding.objects.filter(model_version=model_version).exclude(reference__status=REJECTED).count()


def unembedded_reference_ids(model_version) -> list[int]:
    """References with no embedding under ``model_version`` (what its promotion must compute)."""
    return list(
        embeddable_references()
        .exclude(embeddings__model_version=model_version)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
