"""X9.37 / X9.100-187 image cash letters: a streaming reader and a writer (for tests and benchmarks).

Django-free, like ``sigverify``; the clearing app builds its runs on it.
"""

from .reader import (
    ASCII,
    EBCDIC,
    ClearingFileReader,
    Discrepancy,
    Item,
    Summary,
    X9Error,
    default_account_rule,
    regex_account_rule,
    validate,
)

__all__ = [
    "ASCII",
    "EBCDIC",
    "ClearingFileReader",
    "Discrepancy",
    "Item",
    "Summary",
    "X9Error",
    "default_account_rule",
    "regex_account_rule",
    "validate",
]
