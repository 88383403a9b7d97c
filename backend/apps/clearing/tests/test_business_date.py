"""A clearing item's cheque date is its bundle's business date: the signatories' validity is judged
on it, not on the day the file happens to be run. With the shipped weights, whose calls on the drawn
two-of-three cheque are firm (the mandates app's shipped-model tests pay it)."""

from __future__ import annotations

from datetime import date

import pytest

from apps.clearing import runs, services
from apps.clearing.models import ClearingItem
from apps.mandates import services as mandates
from apps.mandates.models import Signatory
from testsupport.uploads import upload

from .conftest import check, clearing_file

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def active_version(shipped_version):
    return shipped_version


def decided(data: bytes, user) -> ClearingItem:
    row, _ = services.accept_clearing_file(
        upload=upload(data, "cash-letter.icl", "application/octet-stream"), user=user
    )
    assert runs.run_clearing_file(row.pk, worker="test") == "done"
    return ClearingItem.objects.select_related("cheque").get(clearing_file=row)


def test_a_signatory_whose_validity_ended_before_the_bundle_date_is_not_counted(
    two_of_three, genuine_cheque, make_user
):
    mandates.signatory_remove(Signatory.objects.get(account=two_of_three, signer__external_id="DIR-2"))
    mandates.signatory_add(account=two_of_three, signer="DIR-2", group="A", valid_until=date(2026, 2, 28))
    user = make_user("integrator")

    before = decided(clearing_file([check(1, genuine_cheque)], business_date="20260227"), user)
    assert before.business_date == before.cheque.cheque_date == date(2026, 2, 27)
    assert before.decision == "pay", before.cheque.reasons

    after = decided(clearing_file([check(2, genuine_cheque)], business_date="20260301"), user)
    assert after.business_date == after.cheque.cheque_date == date(2026, 3, 1)
    assert after.decision != "pay"
    assert "signature 2 looks like Director 2, but signatory Director 2 not valid after 2026-02-28" in (
        after.cheque.reasons
    ), after.cheque.reasons
    assert "needs 2 of group A, found 1" in after.cheque.reasons
