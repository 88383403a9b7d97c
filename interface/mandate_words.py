"""The mandate editor's small language (the rule in words is the API's: ``ApiClient.mandate_words``).

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
