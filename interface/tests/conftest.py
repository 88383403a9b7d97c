"""A tiny fake of the REST API, served over real HTTP from a thread.

The interface is tested against HTTP, not against mocked Python objects: the client really
sends requests, and the fake records what it received (method, path, query, JSON, multipart).
Every answer it gives is checked against the backend's OpenAPI schema (``schema_check``): a
test whose fake answers a shape the real API never sends fails, saying which field is wrong.
Answers in the real shapes are built with ``shapes``.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import shapes
from PIL import Image
from schema_check import answer_problems, openapi_schema

# Test data only: the interface itself never imports the backend's packages.
from testsupport.synthetic_data import png_bytes as synthetic_png
from testsupport.synthetic_data import signature_bytes

PREFIX = "/api/v1/"


@dataclass
class Recorded:
    method: str
    path: str  # relative to /api/v1/, e.g. "signers/7/"
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = field(repr=False)
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: list[tuple[str, str, bytes]] = field(default_factory=list, repr=False)  # (field, filename, content)


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    body: bytes = b""
    content_type: str = "application/json"
    checked: bool = True  # False only where a test feeds the client a shape on purpose that the API never sends


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], list[tuple[str, str, bytes]]]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    form, files = {}, []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if filename is not None:
            files.append((name, filename, payload))
        else:
            form[name] = payload.decode()
    return form, files


class FakeApi:
    """Routes keyed by (METHOD, path relative to /api/v1/); a route is a Reply or a callable."""

    reply = Reply  # handlers build answers with fake_api.reply(status, json=...)

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Reply | Callable[[Recorded], Reply]] = {}
        self.requests: list[Recorded] = []
        self.problems: list[str] = []  # answers that do not fit the schema; the fixture fails the test on them
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/v1"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def on(
        self,
        method: str,
        path: str,
        status: int = 200,
        json: Any = None,
        body: bytes = b"",
        content_type: str | None = None,
        handler: Callable[[Recorded], Reply] | None = None,
        checked: bool = True,
    ) -> None:
        if handler is not None:
            self.routes[(method.upper(), path)] = handler
        else:
            self.routes[(method.upper(), path)] = Reply(
                status=status,
                json=json,
                body=body,
                content_type=content_type or ("application/json" if body == b"" else "image/png"),
                checked=checked,
            )

    def error(self, method: str, path: str, status: int, code: str, message: str, fields=None) -> None:
        self.on(method, path, status=status, json={"error": {"code": code, "message": message, "fields": fields or {}}})

    def received(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method.upper() and r.path == path]

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _serve(self):
                split = urlsplit(self.path)
                path = split.path[len(PREFIX) :] if split.path.startswith(PREFIX) else split.path
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                content_type = self.headers.get("Content-Type", "")
                recorded = Recorded(
                    method=self.command,
                    path=path,
                    query={k: v[-1] for k, v in parse_qs(split.query).items()},
                    headers=dict(self.headers.items()),
                    body=body,
                )
                if content_type.startswith("application/json") and body:
                    recorded.json = json.loads(body)
                elif content_type.startswith("multipart/form-data"):
                    recorded.form, recorded.files = _parse_multipart(content_type, body)
                fake.requests.append(recorded)
                route = fake.routes.get((self.command, path))
                if route is None:
                    reply = Reply(404, {"error": {"code": "not_found", "message": f"No fake for {path}", "fields": {}}})
                else:
                    reply = route(recorded) if callable(route) else route
                if reply.checked:
                    fake.problems += answer_problems(self.command, path, reply.status, reply.json, reply.content_type)
                payload = json.dumps(reply.json).encode() if reply.json is not None else reply.body
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

        return Handler


@pytest.fixture
def fake_api(monkeypatch):
    openapi_schema()  # generated once, here in the main thread, before the server thread needs it
    api = FakeApi()
    monkeypatch.setenv("SIGVERIFY_API_URL", api.url)
    yield api
    api.close()
    assert not api.problems, "the fake API answered shapes the real API never sends:\n" + "\n".join(api.problems)


def png_bytes(width: int = 120, height: int = 60, stroke: bool = True) -> bytes:
    """A small drawn signature (``stroke=False``: the blank page) as PNG bytes."""
    if stroke:
        return signature_bytes(1, size=(width, height))
    return synthetic_png(Image.new("L", (width, height), 255))


@pytest.fixture
def png():
    return png_bytes


APP = str(__import__("pathlib").Path(__file__).resolve().parents[1] / "app.py")
# Generous: a script run takes well under a second alone, but CI machines can be busy.
APP_TIMEOUT = 120


@pytest.fixture
def open_app(fake_api):
    """An AppTest of the whole app, logged in as a member of ``roles`` (token preset in session state).

    ``auth/me/`` is answered by the fake API with the permissions those roles hold in the backend
    (or ``permissions``), so the app builds its menu exactly as it would live.
    """
    from streamlit.testing.v1 import AppTest

    def _open(
        *roles: str, page: str | None = None, username: str = "clara", permissions: list[str] | None = None
    ) -> AppTest:
        fake_api.on("GET", "auth/me/", json=shapes.me(*roles, username=username, permissions=permissions))
        at = AppTest.from_file(APP, default_timeout=APP_TIMEOUT)
        at.session_state["token"] = "test-token"
        at.run()
        if page:
            at.switch_page(page).run()
        return at

    return _open


@pytest.fixture(scope="module")
def browser():
    """A headless chromium for one real-browser test module (``browser_stack.chromium``)."""
    from browser_stack import chromium

    with chromium() as instance:
        yield instance
