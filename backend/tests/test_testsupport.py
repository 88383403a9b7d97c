"""The test-support rules every test relies on: skip here, fail in CI; a free port is free."""

import socket

import pytest

from testsupport.ci import require, skip_or_fail
from testsupport.servers import free_port


def test_a_missing_part_skips_outside_ci_and_fails_in_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no redis"):
        skip_or_fail("no redis")
    require(True, "never raised")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no redis"):
        skip_or_fail("no redis")
    with pytest.raises(pytest.fail.Exception, match="no chromium"):
        require(False, "no chromium")


def test_free_port_can_be_bound():
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
