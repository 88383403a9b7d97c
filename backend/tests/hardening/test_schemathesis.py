"""Schemathesis against the OpenAPI schema: generated requests to every operation, signed in.

Small on purpose: a few positive and a few negative examples per operation, sent in-process
to the WSGI app (no server). What must hold for every one: no 5xx, and an error in the common
format whenever the answer is 4xx. Data for the path ids comes from real rows (a signer with
references, a verification), so the generated requests reach the code behind the lookups.
"""

from __future__ import annotations

import json

import pytest

schemathesis = pytest.importorskip("schemathesis")

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.core.signals import request_finished, request_started  # noqa: E402
from django.db import close_old_connections  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

EXAMPLES_PER_MODE = 3
SKIP = {
    ("POST", "/api/v1/auth/logout/"),  # revokes the token the rest of the run uses (tested in test_security)
}


def _schema_dict() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    raw = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(json.dumps(raw, default=str))  # plain JSON types only


@pytest.fixture
def wsgi_app():
    """The Django WSGI app, kept inside the test's transaction (as Django's test client does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_generated_requests_never_cause_a_server_error(wsgi_app, verification, make_user, settings_override):
    from schemathesis import GenerationMode

    from apps.accounts.services import token_issue

    user = make_user("admin")
    headers = {"Authorization": f"Token {token_issue(user).key}"}
    schema = schemathesis.openapi.from_dict(_schema_dict())
    problems: list[str] = []
    unsatisfiable: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                strategy = operation.as_strategy(generation_mode=mode, headers=headers)
            except Exception as exc:  # an operation schemathesis cannot build data for is reported, not hidden
                problems.append(f"{operation.method.upper()} {operation.path} ({mode.value}): no strategy: {exc}")
                continue

            @settings(
                max_examples=EXAMPLES_PER_MODE,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def run(case):
                response = case.call(app=wsgi_app, headers=headers)
                where = f"{case.method} {case.formatted_path} ({mode.value})"  # noqa: B023 (run() runs in this iteration)
                if response.status_code >= 500:
                    problems.append(f"{where}: {response.status_code} {response.text[:200]}")
                elif response.status_code >= 400 and "json" in response.headers.get("Content-Type", [""])[0]:
                    body = response.json()
                    if not (
                        isinstance(body, dict) and isinstance(body.get("error"), dict) and body["error"].get("message")
                    ):
                        problems.append(
                            f"{where}: {response.status_code} not in the error format: {response.text[:200]}"
                        )

            try:
                run()
            except Unsatisfiable:  # e.g. no way to make a negative case for an operation without inputs
                unsatisfiable.append(f"{operation.method.upper()} {operation.path} ({mode.value})")
    assert operations >= 20
    assert len(unsatisfiable) < operations, unsatisfiable  # most operations did get generated cases
    assert not problems, "\n".join(problems[:30])


@pytest.fixture
def settings_override(settings):
    settings.ALLOWED_HOSTS = ["*"]
    return settings
