"""One error format everywhere: {"error": {"code", "message", "fields"}}."""

import pytest
from rest_framework import serializers

from apps.core.exceptions import Conflict, api_exception_handler

pytestmark = pytest.mark.django_db


def _body(exc):
    return api_exception_handler(exc, {"view": None}).data


def test_validation_error_lists_fields_and_a_readable_message():
    body = _body(serializers.ValidationError({"full_name": ["This field is required."]}))
    assert body == {
        "error": {
            "code": "validation_error",
            "message": "full_name: This field is required.",
            "fields": {"full_name": ["This field is required."]},
        }
    }


def test_non_field_validation_error():
    body = _body(serializers.ValidationError("bad thing"))
    assert body["error"]["message"] == "bad thing"
    assert body["error"]["fields"] == {"non_field_errors": ["bad thing"]}


def test_service_errors_carry_their_code():
    body = _body(Conflict("Signer X is suspended.", code="signer_suspended"))
    assert body == {"error": {"code": "signer_suspended", "message": "Signer X is suspended.", "fields": {}}}


def test_unexpected_errors_answer_json_500_without_internals(caplog):
    response = api_exception_handler(RuntimeError("secret path /etc/x"), {"view": object()})
    assert response.status_code == 500
    assert response.data["error"]["code"] == "internal_error"
    assert "secret" not in response.data["error"]["message"]
    assert "secret path" in caplog.text


@pytest.mark.parametrize(
    "url, status, code",
    [
        ("/api/v1/signers/", 401, "not_authenticated"),
        ("/api/v1/nothing-here/", 404, "not_found"),
        ("/api/v2/", 404, "not_found"),
        ("/api/", 404, "not_found"),
        ("/api/v1/media/file.png", 404, "not_found"),
    ],
)
def test_http_errors_use_the_format(anon_client, url, status, code):
    response = anon_client.get(url)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert set(response.json()["error"]) == {"code", "message", "fields"}


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_api_url_answers_json_404_for_every_method(client_for, method):
    client = client_for("clerk")
    client.handler.enforce_csrf_checks = True  # as a real client meets it: no CSRF cookie
    response = getattr(client, method)("/api/v1/no/such/route/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}


def test_an_api_url_without_its_slash_is_still_redirected(anon_client):
    response = anon_client.get("/api/v1/health")
    assert response.status_code == 301 and response["Location"] == "/api/v1/health/"


def test_unknown_non_api_urls_keep_djangos_404(anon_client):
    response = anon_client.get("/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_service_errors_are_plain_exceptions_not_drf_ones():
    from rest_framework.exceptions import APIException

    from apps.core.exceptions import InvalidImage, ServiceError, ServiceUnavailable

    for error_type in (ServiceError, Conflict, ServiceUnavailable, InvalidImage):
        assert not issubclass(error_type, APIException)
    error = Conflict("Signer X is suspended.", code="signer_suspended", fields={"signer": ["suspended"]})
    assert (error.http_status, error.code, error.message, str(error)) == (
        409,
        "signer_suspended",
        "Signer X is suspended.",
        "Signer X is suspended.",
    )
    response = api_exception_handler(error, {"view": None})
    assert response.status_code == 409
    assert response.data["error"]["fields"] == {"signer": ["suspended"]}


def test_wrong_method_uses_the_format(client_for):
    response = client_for("clerk").delete("/api/v1/verifications/")
    assert response.status_code in (403, 405)
    assert "error" in response.json()


def test_bad_token_uses_the_format(anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = anon_client.get("/api/v1/auth/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
