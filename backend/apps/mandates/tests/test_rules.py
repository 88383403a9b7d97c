"""The mandate evaluator (``apps.mandates.rules``), with hypothesis over bands, groups, limits and dates."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.mandates import rules
from apps.mandates.rules import (
    ANY_GROUP,
    FORGERY,
    GENUINE,
    PAY,
    REFER,
    RETURN,
    Band,
    Match,
    Requirement,
    SignatoryFacts,
)

TODAY = date(2026, 3, 1)
GROUPS = ("A", "B", "C")


def band(*alternatives, up_to=None):
    return Band(up_to=None if up_to is None else Decimal(up_to), any_of=tuple(tuple(a) for a in alternatives))


def directors(n=3, group="A"):
    return [SignatoryFacts(key=f"D{i}", name=f"Director {i}", group=group) for i in range(1, n + 1)]


def decide(bands, signatories, matches, count, amount="100.00", on=TODAY, **kwargs):
    return rules.decide_cheque(
        bands=bands,
        signatories=signatories,
        matches=matches,
        signature_count=count,
        amount=Decimal(amount),
        on=on,
        **kwargs,
    )


TWO_OF_A = [band([Requirement("A", 2)])]


# --- the goals, stated once as examples ---------------------------------------------------------


def test_two_genuine_signatures_of_a_two_of_three_account_are_paid():
    matches = [Match(0, "D1", GENUINE, 0.97), Match(1, "D2", GENUINE, 0.95)]
    outcome = decide(TWO_OF_A, directors(), matches, 2)
    assert (outcome.decision, outcome.satisfied, outcome.band) == (PAY, True, 0)
    assert [s.signatory for s in outcome.signatures] == ["D1", "D2"]


def test_one_signature_is_referred_with_the_shortfall():
    outcome = decide(TWO_OF_A, directors(), [Match(0, "D1", GENUINE, 0.97)], 1)
    assert outcome.decision == REFER
    assert "needs 2 of group A, found 1" in outcome.reasons


def test_a_forgery_beside_a_genuine_signature_is_returned_not_paid():
    matches = [Match(0, "D1", GENUINE, 0.97)] + [Match(1, k, FORGERY, 0.01) for k in ("D1", "D2", "D3")]
    outcome = decide(TWO_OF_A, directors(), matches, 2)
    assert outcome.decision == RETURN
    assert "signature 2 matches no signatory" in outcome.reasons


def test_forgery_evidence_refers_for_a_person_to_return_where_forgery_calls_do_not_return():
    matches = [Match(0, "D1", GENUINE, 0.97)] + [Match(1, k, FORGERY, 0.01) for k in ("D1", "D2", "D3")]
    outcome = decide(TWO_OF_A, directors(), matches, 2, forgery_returns=False)
    assert outcome.decision == REFER and outcome.satisfied is False
    assert "signature 2 matches no signatory" in outcome.reasons
    assert (
        "signature 2 scores as a forgery against every signatory: a person checks it before the cheque is returned"
        in outcome.reasons
    )


def test_the_same_signatory_twice_counts_once():
    matches = [Match(0, "D1", GENUINE, 0.97), Match(1, "D1", GENUINE, 0.96)]
    assert decide(TWO_OF_A, directors(), matches, 2).decision != PAY


def test_validity_and_limit_reasons_name_the_signatory_and_date():
    people = [
        SignatoryFacts("D1", "Ann", "A", valid_until=date(2026, 2, 28)),
        SignatoryFacts("D2", "Bob", "A", limit=Decimal("50.00")),
        SignatoryFacts("D3", "Cy", "A"),
    ]
    matches = [Match(0, "D1", GENUINE, 0.97), Match(1, "D2", GENUINE, 0.97)]
    outcome = decide(TWO_OF_A, people, matches, 2)
    assert outcome.decision == REFER
    assert any("signatory Ann not valid after 2026-02-28" in r for r in outcome.reasons)
    assert any("above Bob's limit of 50.00" in r for r in outcome.reasons)


def test_always_refer_and_bank_reasons_block_pay_and_return():
    paid = [Match(0, "D1", GENUINE, 0.97), Match(1, "D2", GENUINE, 0.95)]
    outcome = decide(TWO_OF_A, directors(), paid, 2, always_refer=True)
    assert outcome.decision == REFER and "account marked always refer" in outcome.reasons
    forged = [Match(0, k, FORGERY, 0.0) for k in ("D1", "D2", "D3")]
    assert decide(TWO_OF_A, directors(), forged, 1, refer_reasons=["image too dark"]).decision == REFER


def test_panels_and_any_group():
    people = directors(2, "A") + [SignatoryFacts("M1", "Manager", "B")]
    bands = [
        band([Requirement("A", 1)], up_to="1000"),
        band([Requirement("A", 1), Requirement("B", 1)], [Requirement(ANY_GROUP, 3)]),
    ]
    one_a = [Match(0, "D1", GENUINE, 0.9)]
    assert decide(bands, people, one_a, 1, amount="999.99").decision == PAY
    outcome = decide(bands, people, one_a, 1, amount="1000.01")
    assert outcome.band == 1 and outcome.decision == REFER
    assert "option 1 needs 1 of group B, found 0" in outcome.reasons
    assert "option 2 needs 3 signatories of any group, found 1" in outcome.reasons
    a_and_b = one_a + [Match(1, "M1", GENUINE, 0.9)]
    assert decide(bands, people, a_and_b, 2, amount="5000").decision == PAY


def test_no_mandate_or_above_every_band_refers():
    paid = [Match(0, "D1", GENUINE, 0.97), Match(1, "D2", GENUINE, 0.95)]
    assert decide(None, directors(), paid, 2).reasons[-1] == "the account has no mandate"
    outcome = decide([band([Requirement("A", 1)], up_to="50")], directors(), paid, 2)
    assert outcome.decision == REFER and outcome.satisfied is False


# --- parse_mandate: the 400s naming the field --------------------------------------------------


def test_parse_names_the_field_of_each_problem():
    sizes = {"A": 3, "B": 1}
    _, errors = rules.parse_mandate(
        [
            {"up_to": "1000", "any_of": [[{"group": "A", "count": 4}]]},
            {"up_to": "500", "any_of": [[{"group": "Z", "count": 1}]]},
            {"up_to": None, "any_of": [[{"group": "B", "count": 0}]]},
        ],
        sizes,
    )
    assert set(errors) == {
        "bands[0].any_of[0][0].count",
        "bands[1].up_to",
        "bands[1].any_of[0][0].group",
        "bands[2].any_of[0][0].count",
    }
    _, errors = rules.parse_mandate(
        [
            {"up_to": None, "any_of": [[{"group": "A", "count": 1}]]},
            {"up_to": "5", "any_of": [[{"group": "A", "count": 1}]]},
        ],
        sizes,
    )
    assert "bands[0].up_to" in errors
    assert rules.parse_mandate([], sizes)[1] == {"bands": ["Give at least one band: a list of {up_to, any_of}."]}
    assert (
        "bands[0].up_to"
        in rules.parse_mandate([{"up_to": "1.005", "any_of": [[{"group": "A", "count": 1}]]}], sizes)[1]
    )


def test_mandate_in_words():
    bands = [
        band([Requirement("A", 1)], up_to="1000"),
        band([Requirement("A", 2)], [Requirement("A", 1), Requirement("B", 1)]),
    ]
    assert rules.describe_mandate(bands) == [
        "Up to 1,000.00: 1 of group A",
        "Above 1,000.00: 2 of group A, or 1 of group A and 1 of group B",
    ]


# --- properties ---------------------------------------------------------------------------------

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100000"), places=2)
dates = st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31))


@st.composite
def signatories_st(draw):
    n = draw(st.integers(1, 5))
    people = []
    for i in range(n):
        start = draw(st.none() | dates)
        until = draw(st.none() | dates.filter(lambda d, s=start: s is None or d >= s))
        people.append(
            SignatoryFacts(
                key=f"S{i}",
                name=f"Signatory {i}",
                group=draw(st.sampled_from(GROUPS[:2])),
                limit=draw(st.none() | amounts),
                valid_from=start,
                valid_until=until,
            )
        )
    return people


@st.composite
def case_st(draw):
    people = draw(signatories_st())
    sizes = {}
    for p in people:
        sizes[p.group] = sizes.get(p.group, 0) + 1
    groups = sorted(sizes) + [ANY_GROUP]
    n_bands = draw(st.integers(1, 3))
    bounds = sorted(draw(st.lists(amounts, min_size=n_bands - 1, max_size=n_bands - 1, unique=True)))
    bands = []
    for b in range(n_bands):
        alternatives = []
        for _ in range(draw(st.integers(1, 2))):
            group = draw(st.sampled_from(groups))
            size = len(people) if group == ANY_GROUP else sizes[group]
            alternatives.append([Requirement(group, draw(st.integers(1, size)))])
        bands.append(band(*alternatives, up_to=str(bounds[b]) if b < len(bounds) else None))
    count = draw(st.integers(0, 4))
    matches = [
        Match(i, p.key, draw(st.sampled_from((GENUINE, REFER, FORGERY))), draw(st.floats(0, 1)))
        for i in range(count)
        for p in people
    ]
    return bands, people, matches, count, draw(amounts), draw(dates)


def brute_force(alternative, people, edges):
    """Whether some injective signature -> signatory choice meets the alternative (the oracle)."""
    groups = {p.key: p.group for p in people}
    signatures = sorted(edges)
    options = [sorted(edges[s]) + [None] for s in signatures]
    for choice in itertools.product(*options):
        chosen = [c for c in choice if c is not None]
        if len(chosen) != len(set(chosen)):
            continue
        left = list(chosen)
        ok = True
        for req in sorted(alternative, key=lambda r: r.group == ANY_GROUP):
            pool = [c for c in left if req.group == ANY_GROUP or groups[c] == req.group]
            if len(pool) < req.count:
                ok = False
                break
            for c in pool[: req.count]:
                left.remove(c)
        if ok:
            return True
    return False


@settings(max_examples=150, deadline=None)
@given(case_st())
def test_satisfiable_agrees_with_brute_force(case):
    bands, people, matches, count, _amount, _on = case
    edges = {i: {m.signatory for m in matches if m.signature == i and m.decision == GENUINE} for i in range(count)}
    for alternative in (alt for b in bands for alt in b.any_of):
        found = rules.satisfiable(alternative, {p.key: p.group for p in people}, edges)
        assert (found is not None) == brute_force(alternative, people, edges)
        if found is not None:  # distinct signatures, distinct signatories, each a real edge
            assert len(set(found.values())) == len(found)
            assert all(signatory in edges[signature] for signature, signatory in found.items())


@settings(max_examples=200, deadline=None)
@given(case_st())
def test_decisions_keep_their_promises(case):
    bands, people, matches, count, amount, on = case
    outcome = decide(bands, people, matches, count, amount=str(amount), on=on)
    refusals = {p.key: p.refusal(amount, on) for p in people}
    if outcome.decision == PAY:
        # every signature a confident match of someone who may sign, the band met by them
        assert outcome.satisfied is True and count > 0
        for i in range(count):
            assert any(m.signature == i and m.decision == GENUINE and refusals[m.signatory] is None for m in matches)
        assert all(s.decision == GENUINE and s.signatory is not None for s in outcome.signatures)
    if outcome.decision == RETURN:
        assert outcome.satisfied is False
        assert any(all(m.decision == FORGERY for m in matches if m.signature == i) for i in range(count))
    # the band is the first covering the amount
    index = outcome.band
    if index is not None:
        assert bands[index].up_to is None or amount <= bands[index].up_to
        assert all(b.up_to is not None and amount > b.up_to for b in bands[:index])


@settings(max_examples=150, deadline=None)
@given(case_st(), st.data())
def test_more_confidence_never_turns_pay_into_something_else(case, data):
    bands, people, matches, count, amount, on = case
    before = decide(bands, people, matches, count, amount=str(amount), on=on)
    if not matches:
        return
    index = data.draw(st.integers(0, len(matches) - 1))
    upgraded = list(matches)
    upgraded[index] = Match(matches[index].signature, matches[index].signatory, GENUINE, matches[index].score)
    after = decide(bands, people, upgraded, count, amount=str(amount), on=on)
    if before.decision == PAY:
        assert after.decision == PAY
    if after.decision == RETURN:
        assert before.decision == RETURN


@settings(max_examples=200, deadline=None)
@given(signatories_st(), amounts, dates, st.integers(2, 3))
def test_two_of_three_goals(people, amount, on, n_people):
    """Any two valid signatories of group A with confident genuine signatures: never returned; one
    signature, or a forgery beside a genuine one: never paid."""
    people = [SignatoryFacts(p.key, p.name, "A", p.limit, p.valid_from, p.valid_until) for p in people[:n_people]]
    if len(people) < 2:
        return
    bands = [band([Requirement("A", 2)])]
    a, b = people[0], people[1]
    two = [Match(0, a.key, GENUINE, 0.95), Match(1, b.key, GENUINE, 0.95)]
    assert decide(bands, people, two, 2, amount=str(amount), on=on).decision != RETURN
    one = [Match(0, a.key, GENUINE, 0.95)]
    assert decide(bands, people, one, 1, amount=str(amount), on=on).decision != PAY
    forged = [Match(0, a.key, GENUINE, 0.95)] + [Match(1, p.key, FORGERY, 0.01) for p in people]
    assert decide(bands, people, forged, 2, amount=str(amount), on=on).decision != PAY


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), amounts), min_size=1, max_size=4),
    st.dictionaries(st.sampled_from(GROUPS), st.integers(1, 4), min_size=1),
)
def test_parse_accepts_exactly_ordered_bands(bounds, sizes):
    raw = [{"up_to": None if v is None else str(v), "any_of": [[{"group": "*", "count": 1}]]} for v in bounds]
    parsed, errors = rules.parse_mandate(raw, sizes)
    numbers = [v for v in bounds if v is not None]
    ordered = all(v is not None for v in bounds[:-1]) and all(x < y for x, y in zip(numbers, numbers[1:], strict=False))
    assert (not errors) == ordered
    if not errors:
        assert [b.up_to for b in parsed] == [None if v is None else Decimal(v) for v in bounds]
        # round trip through what is stored
        assert rules.bands_from_dicts([b.to_dict() for b in parsed]) == parsed


def test_refusal_dates_are_inclusive():
    person = SignatoryFacts("D", "Dee", "A", valid_from=TODAY, valid_until=TODAY)
    assert person.refusal(Decimal("1"), TODAY) is None
    assert person.refusal(Decimal("1"), TODAY + timedelta(days=1)) == "signatory Dee not valid after 2026-03-01"
    assert person.refusal(Decimal("1"), TODAY - timedelta(days=1)) == "signatory Dee not valid before 2026-03-01"
