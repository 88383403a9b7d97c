"""The mandate editor's small language and the rule in words (as the API's ``words`` reads it).

A band is a row (``up_to``, rule): ``up_to`` an amount or empty (every larger amount); a rule is
alternatives joined by ``or``, each requirements joined by ``and``: ``2 of A``,
``1 of A and 1 of B or 3 of *`` (``*``: any signatory). The API checks the bands again (groups
against the account's, counts against their sizes) and names the field of any problem.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

REQUIREMENT = re.compile(r"^\s*(\d+)\s+(?:of\s+)?(?:group\s+)?(\*|[A-Za-z0-9][A-Za-z0-9 _-]*?)\s*$", re.IGNORECASE)


def _amount(text: str, row: int) -> str | None:
    text = text.strip().replace(",", "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"Band {row}: “{text}” is not an amount.") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"Band {row}: the amount must be greater than 0.")
    return f"{value:.2f}"


def bands_from_rows(rows: list[tuple[str, str]]) -> list[dict]:
    """[(up_to text, rule text)] -> the API's bands; ``ValueError`` in words for what cannot be read."""
    bands = []
    for row, (up_to, rule) in enumerate(rows, start=1):
        alternatives = []
        for option in re.split(r"\s+or\s+", rule.strip(), flags=re.IGNORECASE):
            requirements = []
            for part in re.split(r"\s+and\s+|\s*\+\s*", option.strip(), flags=re.IGNORECASE):
                match = REQUIREMENT.match(part)
                if not match:
                    raise ValueError(f"Band {row}: cannot read “{part.strip()}”; write e.g. `2 of A` or `1 of *`.")
                requirements.append({"group": match.group(2), "count": int(match.group(1))})
            alternatives.append(requirements)
        bands.append({"up_to": _amount(up_to, row), "any_of": alternatives})
    return bands


def rows_from_bands(bands: list[dict]) -> list[tuple[str, str]]:
    return [
        (
            "" if band.get("up_to") is None else str(band["up_to"]),
            " or ".join(" and ".join(f"{r['count']} of {r['group']}" for r in alt) for alt in band["any_of"]),
        )
        for band in bands
    ]


def _requirement(group: str, count: int) -> str:
    if group == "*":
        return f"{count} {'signatory' if count == 1 else 'signatories'} of any group"
    return f"{count} of group {group}"


def _money(value) -> str:
    return f"{Decimal(str(value)):,.2f}"


def describe(bands: list[dict]) -> list[str]:
    """One line per band: "Above 1,000.00: 2 of group A, or 1 of group A and 1 of group B"."""
    lines, previous = [], None
    for band in bands:
        low = f"above {_money(previous)}" if previous is not None else ""
        high = f"up to {_money(band['up_to'])}" if band.get("up_to") is not None else ""
        span = " ".join(p for p in (low, high) if p) or "any amount"
        options = [" and ".join(_requirement(r["group"], r["count"]) for r in alt) for alt in band["any_of"]]
        lines.append(f"{span[:1].upper()}{span[1:]}: " + ", or ".join(options))
        previous = band.get("up_to")
    return lines
