"""One rule for tests whose parts (a server, data, a browser) may be missing: skip here, fail in CI.

CI sets ``CI`` (to ``true``) and provides every part, so there a missing part is a failure.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test, or fail it in CI, where ``reason`` must not happen."""
    if in_ci():
        pytest.fail(f"{reason} (CI must run this test)")
    pytest.skip(reason)


def require(condition: bool, reason: str) -> None:
    """``skip_or_fail(reason)`` unless ``condition`` holds."""
    if not condition:
        skip_or_fail(reason)
