"""The clearing app's view of an image cash letter: ``x937``'s reader with the bank's On-Us rules."""

from __future__ import annotations

from functools import lru_cache
from typing import BinaryIO

from django.conf import settings

import x937


@lru_cache(maxsize=64)
def _rule(pattern: str | None) -> x937.reader.AccountRule:
    return x937.regex_account_rule(pattern) if pattern else x937.default_account_rule


def account_rule_for(routing: str):
    """The On-Us rule of the payor bank ``routing`` (SIGVERIFY_CLEARING_ACCOUNT_RULES: routing -> regex
    with an ``account`` group; "*" for every bank), else the default: the digits left of the last "/"."""
    rules = settings.SIGVERIFY_CLEARING_ACCOUNT_RULES
    return _rule(rules.get(routing) or rules.get("*"))


def reader(stream: BinaryIO, keep_images: bool = True) -> x937.ClearingFileReader:
    return x937.ClearingFileReader(stream, keep_images=keep_images, rule_for_routing=account_rule_for)
