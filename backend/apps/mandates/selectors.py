from __future__ import annotations

from django.db.models import Count, Prefetch, QuerySet

from apps.core.exceptions import ServiceError

from . import rules
from .models import BankAccount, ChequeDecision, ChequeReview, Mandate, Signatory


def account_list() -> QuerySet[BankAccount]:
    signatories = Signatory.objects.select_related("signer").order_by("group", "signer__external_id")
    return BankAccount.objects.annotate(signatory_count=Count("signatories")).prefetch_related(
        Prefetch("signatories", queryset=signatories)
    )


def signatory_list(account: BankAccount) -> QuerySet[Signatory]:
    return account.signatories.select_related("signer").order_by("group", "signer__external_id")


def current_mandate(account: BankAccount) -> Mandate | None:
    """The mandate in force: the newest version."""
    return Mandate.objects.filter(account=account).order_by("-changed_at", "-id").first()


def mandate_history(account: BankAccount) -> QuerySet[Mandate]:
    return Mandate.objects.filter(account=account).select_related("changed_by").order_by("-changed_at", "-id")


def mandate_words(account: BankAccount, bands) -> list[str]:
    """``bands`` in words, one line per band, checked as setting them would check them against the
    account's groups (``ServiceError`` with a field per problem); nothing is stored."""
    parsed, errors = rules.parse_mandate(bands, group_sizes(account))
    if errors:
        field, messages = next(iter(errors.items()))
        raise ServiceError(f"{field}: {messages[0]}", code="validation_error", fields=errors)
    return rules.describe_mandate(parsed)


def group_sizes(account: BankAccount) -> dict[str, int]:
    """group -> number of signatories in it."""
    rows = Signatory.objects.filter(account=account).values("group").annotate(size=Count("id"))
    return {row["group"]: row["size"] for row in rows}


def signatory_facts(signatories) -> list[rules.SignatoryFacts]:
    return [
        rules.SignatoryFacts(
            key=s.signer.external_id,
            name=s.signer.full_name or s.signer.external_id,
            group=s.group,
            limit=s.limit,
            valid_from=s.valid_from,
            valid_until=s.valid_until,
        )
        for s in signatories
    ]


def cheque_decision_list() -> QuerySet[ChequeDecision]:
    return ChequeDecision.objects.select_related("account", "requested_by", "model_version").prefetch_related(
        Prefetch("reviews", queryset=ChequeReview.objects.select_related("reviewer").order_by("-created_at", "-id"))
    )
