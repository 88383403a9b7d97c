"""The goals with the shipped weights on drawn cheques: a two-of-three account's cheque with two
genuine signatures is paid (never returned); with one signature, or a forgery beside a genuine one,
it is never paid. And the bank's amount rules: a stricter accept target, and "refer everything above"."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.mandates.models import AmountRule
from apps.mandates.services import _stricter_cache, cheque_decide
from testsupport.cheques import cheque_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def active_version(shipped_version):
    """The account's references are embedded by the shipped weights (not the tiny test model)."""
    return shipped_version


@pytest.fixture(autouse=True)
def _fresh_amount_thresholds():
    _stricter_cache.clear()
    yield
    _stricter_cache.clear()


def decide(signatures, amount="100.00"):
    return cheque_decide(account_number="12345678", amount=amount, image=cheque_bytes(signatures))


@pytest.mark.parametrize("pair", [(1, 2), (2, 3), (1, 3)])
def test_two_genuine_signatures_are_never_returned(two_of_three, pair):
    decision = decide([(pair[0], False), (pair[1], False)])
    assert decision.decision != "return", decision.reasons
    assert len(decision.signatures) == 2


def test_two_genuine_signatures_are_paid(two_of_three):
    decision = decide([(1, False), (2, False)])
    assert decision.decision == "pay", decision.reasons
    assert decision.satisfied is True and decision.reasons == []
    assert [s["signer"] for s in decision.signatures] == ["DIR-1", "DIR-2"]


@pytest.mark.parametrize(
    "signatures",
    [[(1, False)], [(2, False)], [(1, False), (2, True)], [(3, True), (2, False)], [(1, False), (7, False)]],
    ids=[
        "one-signature",
        "one-other-signature",
        "genuine-then-forgery",
        "forgery-then-genuine",
        "genuine-and-stranger",
    ],
)
def test_one_signature_or_a_forgery_beside_a_genuine_one_is_never_paid(two_of_three, signatures):
    decision = decide(signatures)
    assert decision.decision != "pay", decision.signatures
    assert any("needs 2 of group A, found" in reason for reason in decision.reasons)


@pytest.fixture
def without_cheque_pair(shipped_version):
    """The shipped version as a model published without cheque scores: no pair fitted on cheques."""
    shipped_version.thresholds = {k: v for k, v in shipped_version.thresholds.items() if k != "cheque"}
    shipped_version.save(update_fields=["thresholds"])
    return shipped_version


def test_a_stranger_beside_a_genuine_signature_is_referred_for_a_person_to_return(two_of_three, without_cheque_pair):
    """Where the version has no operating points fitted on cheques, a forgery call on a whole
    cheque is checked by a person: the cheque is referred."""
    decision = decide([(1, False), (7, False)])
    assert decision.decision == "refer"
    assert "signature 2 matches no signatory" in decision.reasons
    assert (
        "signature 2 scores as a forgery against every signatory: a person checks it before the cheque is returned"
        in (decision.reasons)
    )
    assert decision.signatures[1]["signer"] is None and decision.signatures[1]["decision"] == "forgery"


def test_a_stranger_beside_a_genuine_signature_is_returned_where_the_bank_lets_it_decide(
    two_of_three, without_cheque_pair, settings
):
    settings.SIGVERIFY_CHEQUE_FORGERY_DECIDES = True
    decision = decide([(1, False), (7, False)])
    assert decision.decision == "return"
    assert "signature 2 matches no signatory" in decision.reasons
    assert not any("a person checks it" in reason for reason in decision.reasons)


def test_signatures_are_decided_with_the_shipped_pair_fitted_on_cheques(two_of_three, shipped_version):
    """The shipped card has operating points fitted on signatures cut from generated cheques: every
    box is decided with them, never looser than its R's own pair, and no forgery call is held back
    for a person (with the shipped pair's reject of 0 no cheque crop is called a forgery at all:
    the stranger's signature makes the cheque a referral on the mandate's own rules)."""
    from apps.modelregistry.serving import thresholds_in_force

    cheque = shipped_version.thresholds["cheque"]
    decision = decide([(1, False), (7, False)])
    own = thresholds_in_force(shipped_version, references=4)
    for signature in decision.signatures:
        for candidate in signature["candidates"]:
            assert candidate["accept"] >= max(cheque["accept"], own["accept"]) - 1e-12
            assert candidate["reject"] <= min(cheque["reject"], own["reject"]) + 1e-12
    assert not any("a person checks it" in reason for reason in decision.reasons)
    assert decision.decision == "refer" and "needs 2 of group A, found 1" in decision.reasons
    if cheque["reject"] == 0.0:  # the shipped pair: no crop cut from a cheque is called a forgery
        assert all(signature["decision"] != "forgery" for signature in decision.signatures)


def test_refer_everything_above_an_amount(two_of_three):
    AmountRule.objects.create(above=Decimal("10000.00"), refer_all=True)
    assert decide([(1, False), (2, False)], amount="10000.00").decision == "pay"
    above = decide([(1, False), (2, False)], amount="10000.01")
    assert above.decision == "refer"
    assert "the bank refers every cheque above 10,000.00" in above.reasons


def test_a_stricter_accept_target_above_an_amount(two_of_three, shipped_version):
    AmountRule.objects.create(above=Decimal("5000.00"), far_skilled=0.001)
    small = decide([(1, False), (2, False)], amount="100.00")
    large = decide([(1, False), (2, False)], amount="6000.00")
    assert small.thresholds["accept"] == pytest.approx(shipped_version.accept_threshold)
    assert large.thresholds["accept"] >= small.thresholds["accept"]
    assert large.thresholds["accept_far_skilled"] == 0.001 and large.thresholds["amount_rule_above"] == "5000.00"
    for signature in large.signatures:  # each call made at the stricter threshold (or R's, if stricter still)
        best = signature["candidates"][0]
        assert best["accept"] >= large.thresholds["stricter_accept"]
        assert (best["decision"] == "genuine") == (best["score"] >= best["accept"])


@pytest.fixture
def doubtful_finder(monkeypatch):
    """The finder's boxes as it finds them, each with a confidence under ``LOW_CONFIDENCE``."""
    from apps.mandates import services
    from sigverify.signature_finder import LOW_CONFIDENCE, FoundSignature, find_signatures

    def doubtful(picture):
        return [FoundSignature(f.box, LOW_CONFIDENCE - 0.1) for f in find_signatures(picture)]

    monkeypatch.setattr(services, "find_signatures", doubtful)


def test_a_doubtful_box_that_a_signatory_accepts_counts(two_of_three, doubtful_finder):
    decision = decide([(1, False), (2, False)])
    assert decision.decision == "pay", decision.reasons
    assert [s["signer"] for s in decision.signatures] == ["DIR-1", "DIR-2"]


@pytest.mark.parametrize("signatures", [[(1, False), (2, True)], [(1, False), (7, False)]], ids=["forgery", "stranger"])
def test_a_doubtful_box_that_no_signatory_accepts_is_referred_never_returned(two_of_three, doubtful_finder, signatures):
    decision = decide(signatures)
    assert decision.decision == "refer", decision.reasons
    assert any(
        reason.startswith("signature 2 cannot be judged: it may not be a signature (finder confidence 0.40)")
        for reason in decision.reasons
    ), decision.reasons
    assert not any(reason.startswith("signature 1 cannot be judged") for reason in decision.reasons)
