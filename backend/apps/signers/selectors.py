from __future__ import annotations

import numpy as np
from django.db.models import Count, QuerySet
from django.http import Http404

from .models import ReferenceEmbedding, ReferenceSignature, Signer


def signer_list() -> QuerySet[Signer]:
    return Signer.objects.annotate(reference_count=Count("references"))


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
    signer = find_signer(key, queryset)
    if signer is None:
        raise Http404(f"no signer with id or external id {key!r}")
    return signer


def reference_list(signer: Signer) -> QuerySet[ReferenceSignature]:
    return signer.references.select_related("enrolled_by", "signer").prefetch_related("embeddings")


def reference_embeddings(signer: Signer, model_version) -> tuple[list[int], np.ndarray]:
    """(reference ids, (R, D) float32 matrix) of the signer's references under ``model_version``."""
    rows = list(
        ReferenceEmbedding.objects.filter(reference__signer=signer, model_version=model_version)
        .order_by("reference_id")
        .values_list("reference_id", "vector")
    )
    if not rows:
        return [], np.zeros((0, 0), dtype=np.float32)
    ids = [r[0] for r in rows]
    matrix = np.stack([np.frombuffer(bytes(r[1]), dtype=np.float32) for r in rows])
    return ids, matrix


def reference_count() -> int:
    return ReferenceSignature.objects.count()


def embedded_reference_count(model_version) -> int:
    return ReferenceEmbedding.objects.filter(model_version=model_version).count()


def unembedded_reference_ids(model_version) -> list[int]:
    """References with no embedding under ``model_version`` (what its promotion must compute)."""
    return list(
        ReferenceSignature.objects.exclude(embeddings__model_version=model_version)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
