"""Mandates and the cheque decision as pure logic (no Django): what the services and the tests share.

A mandate is a list of amount bands; a band applies to amounts up to its ``up_to`` (the last may be
open, ``None``). A band is satisfied by any one of its alternatives; an alternative is a list of
requirements "``count`` distinct signatories of group ``group``" (``"*"``: of any group), all met at
once by distinct signatories, each shown by a distinct signature on the cheque.

A signature *counts* for a signatory when the model matched it (``genuine``: confident; ``refer``:
possible) and the signatory may sign this cheque (valid on its date, amount within their limit).
The decision:

- ``pay``: the band is satisfied by confident matches alone, and every signature found on the cheque
  is a confident match of a signatory who may sign (an extra unknown signature is a question);
- ``return``: the band cannot be satisfied even if every possible match were confirmed, and some
  signature is confidently no signatory's (evidence of forgery);
- ``refer`` otherwise, and always for an account marked "always refer", an amount the bank refers
  anyway, or an image that is unfit to judge.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

GENUINE, REFER, FORGERY = "genuine", "refer", "forgery"
PAY, RETURN = "pay", "return"
ANY_GROUP = "*"
MAX_BANDS = 20
MAX_ALTERNATIVES = 20
MAX_REQUIREMENTS = 20
GROUP_MAX_LENGTH = 32


@dataclass(frozen=True)
class Requirement:
    group: str
    count: int

    def words(self) -> str:
        who = "signatory" if self.count == 1 else "signatories"
        return f"{self.count} {who} of any group" if self.group == ANY_GROUP else f"{self.count} of group {self.group}"


@dataclass(frozen=True)
class Band:
    up_to: Decimal | None
    any_of: tuple[tuple[Requirement, ...], ...]

    def to_dict(self) -> dict:
        return {
            "up_to": None if self.up_to is None else str(self.up_to),
            "any_of": [[{"group": r.group, "count": r.count} for r in alt] for alt in self.any_of],
        }


@dataclass(frozen=True)
class SignatoryFacts:
    """What the rules need of a signatory: ``key`` identifies it (the signer's external id)."""

    key: str
    name: str
    group: str
    limit: Decimal | None = None
    valid_from: date | None = None
    valid_until: date | None = None

    def refusal(self, amount: Decimal, on: date) -> str | None:
        """Why this signatory may not sign this cheque, or None."""
        if self.valid_from is not None and on < self.valid_from:
            return f"signatory {self.name} not valid before {self.valid_from.isoformat()}"
        if self.valid_until is not None and on > self.valid_until:
            return f"signatory {self.name} not valid after {self.valid_until.isoformat()}"
        if self.limit is not None and amount > self.limit:
            return f"amount {format_amount(amount)} is above {self.name}'s limit of {format_amount(self.limit)}"
        return None


@dataclass(frozen=True)
class Match:
    """The model's call on found signature ``signature`` (0-based) against signatory ``signatory``."""

    signature: int
    signatory: str
    decision: str  # genuine | refer | forgery
    score: float


@dataclass
class SignatureOutcome:
    signatory: str | None  # the signatory it was identified as (or the closest possible one), else None
    decision: str
    score: float | None


@dataclass
class Outcome:
    decision: str
    band: int | None  # index of the band that applies; None: no mandate or above every band
    satisfied: bool | None  # True: by confident matches; False: impossible even so; None: undecided
    reasons: list[str] = field(default_factory=list)
    signatures: list[SignatureOutcome] = field(default_factory=list)


def format_amount(amount: Decimal) -> str:
    return f"{amount:,.2f}"


# --- reading and checking a mandate ---------------------------------------------------------------


def parse_amount(value) -> Decimal:
    """A positive amount with at most two decimals (``ValueError`` with a readable message)."""
    if isinstance(value, bool) or value is None:
        raise ValueError("must be an amount such as 1000 or 1000.00")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite amount")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError("must be an amount such as 1000 or 1000.00") from None
    if not amount.is_finite():
        raise ValueError("must be a finite amount")
    if amount <= 0:
        raise ValueError("must be greater than 0")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError("must have at most two decimals")
    if amount >= Decimal("1e13"):
        raise ValueError("is too large")
    return amount.quantize(Decimal("0.01"))


def parse_mandate(raw, group_sizes: Mapping[str, int]) -> tuple[list[Band], dict[str, list[str]]]:
    """(bands, field errors) for the ``bands`` of a mandate PUT. ``group_sizes``: group -> signatories.

    Field names point into the body: ``bands[1].up_to``, ``bands[0].any_of[1][0].count``. Bands must be
    ordered by strictly increasing ``up_to``, only the last may be open (``null``); a requirement's
    group must be a group of the account (or ``"*"``) and the count per group in an alternative at
    most that group's size.
    """
    errors: dict[str, list[str]] = {}
    if not isinstance(raw, list) or not raw:
        return [], {"bands": ["Give at least one band: a list of {up_to, any_of}."]}
    if len(raw) > MAX_BANDS:
        return [], {"bands": [f"At most {MAX_BANDS} bands."]}
    total = sum(group_sizes.values())
    bands: list[Band] = []
    previous: Decimal | None = None
    for b, item in enumerate(raw):
        where = f"bands[{b}]"
        if not isinstance(item, dict):
            errors[where] = ["Each band is an object {up_to, any_of}."]
            continue
        unknown = sorted(set(item) - {"up_to", "any_of"})
        if unknown:
            errors[where] = [f"Unknown key(s): {', '.join(unknown)}."]
        up_to = None
        if item.get("up_to") is not None:
            try:
                up_to = parse_amount(item["up_to"])
            except ValueError as exc:
                errors[f"{where}.up_to"] = [f"up_to {exc}."]
        elif b != len(raw) - 1:
            errors[f"{where}.up_to"] = ["Only the last band may be open (up_to null): it covers every larger amount."]
        if up_to is not None and previous is not None and up_to <= previous:
            errors[f"{where}.up_to"] = [
                f"Bands must be ordered by increasing up_to without overlap: {up_to} is not above {previous}."
            ]
        if up_to is not None:
            previous = up_to if previous is None else max(previous, up_to)
        alternatives = item.get("any_of")
        if not isinstance(alternatives, list) or not alternatives:
            errors[f"{where}.any_of"] = ["Give at least one alternative: a list of lists of {group, count}."]
            continue
        if len(alternatives) > MAX_ALTERNATIVES:
            errors[f"{where}.any_of"] = [f"At most {MAX_ALTERNATIVES} alternatives."]
            continue
        parsed_alternatives = []
        for a, alternative in enumerate(alternatives):
            alt_where = f"{where}.any_of[{a}]"
            if not isinstance(alternative, list) or not alternative or len(alternative) > MAX_REQUIREMENTS:
                errors[alt_where] = [
                    f"An alternative is a list of 1 to {MAX_REQUIREMENTS} requirements {{group, count}}."
                ]
                continue
            requirements, per_group = [], {}
            for r, requirement in enumerate(alternative):
                req_where = f"{alt_where}[{r}]"
                if not isinstance(requirement, dict):
                    errors[req_where] = ["A requirement is an object {group, count}."]
                    continue
                group, count = requirement.get("group"), requirement.get("count")
                group_ok = isinstance(group, str) and group.strip() != ""
                if not group_ok:
                    errors[f"{req_where}.group"] = ['group must be a group name of the account, or "*" for any.']
                elif group != ANY_GROUP and group not in group_sizes:
                    known = ", ".join(sorted(group_sizes)) or "none yet"
                    errors[f"{req_where}.group"] = [f"Unknown group {group!r}: the account's groups are {known}."]
                    group_ok = False
                if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                    errors[f"{req_where}.count"] = ["count must be a whole number of at least 1."]
                    continue
                if not group_ok:
                    continue
                per_group[group] = per_group.get(group, 0) + count
                size = total if group == ANY_GROUP else group_sizes[group]
                if per_group[group] > size:
                    what = "signatories in all" if group == ANY_GROUP else f"signatories in group {group}"
                    errors[f"{req_where}.count"] = [f"Needs {per_group[group]} but the account has {size} {what}."]
                    continue
                requirements.append(Requirement(group, count))
            needed = sum(per_group.values())
            if needed > total and f"{alt_where}" not in errors and not any(k.startswith(alt_where) for k in errors):
                errors[alt_where] = [f"Needs {needed} signatories but the account has {total}."]
            parsed_alternatives.append(tuple(_merged(requirements)))
        bands.append(Band(up_to=up_to, any_of=tuple(parsed_alternatives)))
    return (bands if not errors else []), errors


def _merged(requirements: Sequence[Requirement]) -> list[Requirement]:
    counts: dict[str, int] = {}
    for requirement in requirements:
        counts[requirement.group] = counts.get(requirement.group, 0) + requirement.count
    return [Requirement(group, count) for group, count in counts.items()]


def bands_from_dicts(stored: Sequence[dict]) -> list[Band]:
    """Bands as stored (already checked when set)."""
    return [
        Band(
            up_to=None if item.get("up_to") is None else Decimal(str(item["up_to"])),
            any_of=tuple(
                tuple(Requirement(str(r["group"]), int(r["count"])) for r in alternative)
                for alternative in item["any_of"]
            ),
        )
        for item in stored
    ]


def band_for(bands: Sequence[Band], amount: Decimal) -> int | None:
    """Index of the first band whose ``up_to`` covers ``amount``; None when above every band."""
    for index, band in enumerate(bands):
        if band.up_to is None or amount <= band.up_to:
            return index
    return None


def describe_band(band: Band, previous_up_to: Decimal | None = None) -> str:
    """The band in words: "Above 1,000.00 up to 10,000.00: 2 of group A, or 1 of group A and 1 of group B"."""
    low = f"above {format_amount(previous_up_to)}" if previous_up_to is not None else ""
    high = f"up to {format_amount(band.up_to)}" if band.up_to is not None else ""
    span = " ".join(p for p in (low, high) if p) or "any amount"
    options = [" and ".join(r.words() for r in alternative) for alternative in band.any_of]
    return f"{span[:1].upper()}{span[1:]}: " + ", or ".join(options)


def describe_mandate(bands: Sequence[Band]) -> list[str]:
    lines, previous = [], None
    for band in bands:
        lines.append(describe_band(band, previous))
        previous = band.up_to
    return lines


# --- deciding a cheque ---------------------------------------------------------------------------


def satisfiable(
    alternative: Sequence[Requirement], groups: Mapping[str, str], edges: Mapping[int, set[str]]
) -> dict[int, str] | None:
    """An assignment {signature: signatory} meeting every requirement of ``alternative`` with distinct
    signatories and distinct signatures, or None. ``groups``: signatory -> group; ``edges``:
    signature -> signatories it may count for. A max flow: requirement slot -> signatory -> signature."""
    slots = [r.group for r in alternative for _ in range(r.count)]
    if not slots:
        return {}
    signatories = sorted({s for targets in edges.values() for s in targets})
    source, sink = ("source",), ("sink",)
    capacity: dict = {}
    neighbours: dict = {}

    def add(u, v):
        capacity[(u, v)] = capacity.get((u, v), 0) + 1
        capacity.setdefault((v, u), 0)
        neighbours.setdefault(u, set()).add(v)
        neighbours.setdefault(v, set()).add(u)

    for index, group in enumerate(slots):
        add(source, ("slot", index))
        for signatory in signatories:
            if group == ANY_GROUP or groups.get(signatory) == group:
                add(("slot", index), ("in", signatory))
    for signatory in signatories:
        add(("in", signatory), ("out", signatory))
    for signature, targets in edges.items():
        for signatory in targets:
            add(("out", signatory), ("signature", signature))
        add(("signature", signature), sink)

    flow = 0
    while True:
        parent = {source: None}
        queue = deque([source])
        while queue and sink not in parent:
            u = queue.popleft()
            for v in neighbours.get(u, ()):
                if v not in parent and capacity[(u, v)] > 0:
                    parent[v] = u
                    queue.append(v)
        if sink not in parent:
            break
        v = sink
        while parent[v] is not None:
            u = parent[v]
            capacity[(u, v)] -= 1
            capacity[(v, u)] += 1
            v = u
        flow += 1
    if flow < len(slots):
        return None
    assignment = {}
    for signature in edges:
        for signatory in edges[signature]:
            # the edge out->signature carries flow when its reverse capacity is 1 more than it started
            if capacity.get((("signature", signature), ("out", signatory)), 0) > 0:
                assignment[signature] = signatory
    return assignment


def _shortfalls(alternative: Sequence[Requirement], groups: Mapping[str, str], counted: set[str]) -> list[str]:
    reasons, used = [], set()
    for requirement in sorted(alternative, key=lambda r: r.group == ANY_GROUP):
        pool = [s for s in sorted(counted - used) if requirement.group == ANY_GROUP or groups[s] == requirement.group]
        found = pool[: requirement.count]
        used.update(found)
        if len(found) < requirement.count:
            reasons.append(f"needs {requirement.words()}, found {len(found)}")
    return reasons


def decide_cheque(
    *,
    bands: Sequence[Band] | None,
    signatories: Sequence[SignatoryFacts],
    matches: Sequence[Match],
    signature_count: int,
    amount: Decimal,
    on: date,
    always_refer: bool = False,
    refer_reasons: Sequence[str] = (),
    unscored: Sequence[str] = (),
    forgery_returns: bool = True,
) -> Outcome:
    """The decision for one cheque. ``matches``: the model's call on each found signature (0-based,
    ``signature_count`` of them) against each signatory; ``refer_reasons``: what already forces a
    referral (image quality, the bank's amount policy), shown first; ``unscored``: signatories who
    may sign but could not be compared (no references): a signature matching no one else may be theirs.
    ``forgery_returns`` False: a cheque the forgery evidence would return is referred instead, for a
    person to return (the model's forgery calls on a whole cheque's crops are not trusted alone)."""
    facts = {s.key: s for s in signatories}
    groups = {s.key: s.group for s in signatories}
    refusals = {s.key: s.refusal(amount, on) for s in signatories}
    by_signature: dict[int, list[Match]] = {i: [] for i in range(signature_count)}
    for match in matches:
        if match.signatory in facts and 0 <= match.signature < signature_count:
            by_signature[match.signature].append(match)

    reasons = list(refer_reasons)
    if always_refer:
        reasons.append("account marked always refer")
    if signature_count == 0:
        reasons.append("no signature found on the cheque")

    could_be_unscored = any(key in facts and refusals[key] is None for key in unscored)
    confident: dict[int, set[str]] = {}
    possible: dict[int, set[str]] = {}
    signatures: list[SignatureOutcome] = []
    forged: list[int] = []  # signatures called forgery by every signatory: evidence of forgery
    unexplained = False
    for index in range(signature_count):
        label = f"signature {index + 1}"
        calls = sorted(by_signature[index], key=lambda m: (-m.score, m.signatory))
        may_sign = [m for m in calls if refusals[m.signatory] is None]
        confident[index] = {m.signatory for m in may_sign if m.decision == GENUINE}
        possible[index] = {m.signatory for m in may_sign if m.decision in (GENUINE, REFER)}
        best = calls[0] if calls else None
        blocked = [m for m in calls if m.decision in (GENUINE, REFER) and refusals[m.signatory] is not None]
        for m in blocked:
            reasons.append(f"{label} looks like {facts[m.signatory].name}, but {refusals[m.signatory]}")
        if confident[index]:
            top = next(m for m in may_sign if m.decision == GENUINE)
            signatures.append(SignatureOutcome(top.signatory, GENUINE, top.score))
            continue
        unexplained = True
        if possible[index]:
            top = next(m for m in may_sign if m.decision in (GENUINE, REFER))
            signatures.append(SignatureOutcome(top.signatory, REFER, top.score))
            reasons.append(f"{label} is uncertain: closest signatory {facts[top.signatory].name}")
        elif blocked:
            signatures.append(SignatureOutcome(blocked[0].signatory, blocked[0].decision, blocked[0].score))
        else:
            if calls and all(m.decision == FORGERY for m in calls) and not could_be_unscored:
                forged.append(index)
            signatures.append(SignatureOutcome(None, FORGERY if calls else REFER, best.score if best else None))
            reasons.append(f"{label} matches no signatory")

    if unexplained:
        for key in unscored:
            if key in facts and refusals[key] is None:
                reasons.append(f"signatory {facts[key].name} has no reference signatures to compare with")
    if not bands:
        reasons.append("the account has no mandate")
        return Outcome(REFER, None, None, reasons, signatures)
    band_index = band_for(bands, amount)
    if band_index is None:
        reasons.append(f"amount {format_amount(amount)} is above every band of the mandate")
        return Outcome(REFER, None, False, reasons, signatures)
    band = bands[band_index]

    confirmed = None
    for alternative in band.any_of:
        confirmed = satisfiable(alternative, groups, confident)
        if confirmed is not None:
            break
    if confirmed is not None:
        satisfied: bool | None = True
        for signature, signatory in confirmed.items():  # show whom each signature counted for
            signatures[signature] = SignatureOutcome(
                signatory, GENUINE, next(m.score for m in by_signature[signature] if m.signatory == signatory)
            )
    else:
        maybe = any(satisfiable(alternative, groups, possible) is not None for alternative in band.any_of)
        satisfied = None if maybe else False
        counted = set().union(*confident.values()) if confident else set()
        many = len(band.any_of) > 1
        for number, alternative in enumerate(band.any_of, start=1):
            for shortfall in _shortfalls(alternative, groups, counted):
                reasons.append(f"option {number} {shortfall}" if many else shortfall)

    if satisfied is True and not unexplained and not always_refer and not refer_reasons:
        return Outcome(PAY, band_index, True, reasons, signatures)
    if satisfied is False and forged and not always_refer and not refer_reasons:
        if forgery_returns:
            return Outcome(RETURN, band_index, False, reasons, signatures)
        reasons += [
            f"signature {index + 1} scores as a forgery against every signatory: a person checks it"
            " before the cheque is returned"
            for index in forged
        ]
    return Outcome(REFER, band_index, satisfied, reasons, signatures)
