"""Clearing files written here (``x937.writer``) with drawn cheques, against the mandates app's
two-of-three account."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from apps.mandates.tests.conftest import shipped_version, signatories_enrolled, two_of_three  # noqa: F401
from testsupport.cheques import cheque_bytes
from x937.writer import CheckItem, file_bytes, g4_tiff

ACCOUNT = "12345678"  # two_of_three's account


def cheque_tiff(signatures) -> bytes:
    """A drawn cheque as a clearing file carries it: bilevel, group 4."""
    return g4_tiff(Image.open(io.BytesIO(cheque_bytes(signatures))), dpi=200)


@pytest.fixture(scope="session")
def genuine_cheque() -> bytes:
    return cheque_tiff([(1, False), (2, False)])


def clearing_file(items: list[CheckItem], **options) -> bytes:
    return file_bytes(items, **options)


def check(sequence: int, image: bytes | None, account: str = ACCOUNT, cents: int = 10000) -> CheckItem:
    return CheckItem(cents, f"{account}/{sequence:04d}", str(sequence), image)
