"""The OpenAPI schema validates with no warnings, and names the contract fields."""

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_spectacular_validate_fail_on_warn(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    paths = schema["paths"]
    for path in [
        "/api/v1/auth/token/",
        "/api/v1/auth/logout/",
        "/api/v1/auth/me/",
        "/api/v1/health/",
        "/api/v1/signers/",
        "/api/v1/signers/{id}/",
        "/api/v1/signers/{id}/suspend/",
        "/api/v1/signers/{signer_key}/references/",
        "/api/v1/signers/{signer_key}/references/{id}/",
        "/api/v1/verifications/",
        "/api/v1/verifications/{id}/",
        "/api/v1/verifications/{id}/review/",
        "/api/v1/model-versions/",
    ]:
        assert path in paths, path
    verify_body = paths["/api/v1/verifications/"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    verify_fields = schema["components"]["schemas"][verify_body["$ref"].rsplit("/", 1)[1]]["properties"]
    assert {"signer", "image", "crop", "cheque_reference"} <= set(verify_fields)
    record = schema["components"]["schemas"]["Verification"]["properties"]
    assert {"decision", "score", "distances", "model_version"} <= set(record)
    upload_body = paths["/api/v1/signers/{signer_key}/references/"]["post"]["requestBody"]["content"][
        "multipart/form-data"
    ]
    upload_fields = schema["components"]["schemas"][upload_body["schema"]["$ref"].rsplit("/", 1)[1]]["properties"]
    assert "images" in upload_fields
    assert {"external_id", "full_name", "status"} <= set(schema["components"]["schemas"]["Signer"]["properties"])
    region = schema["components"]["schemas"]["SignatureRegion"]["properties"]
    assert {"crop", "found", "code_line_top", "signatures"} <= set(region)
    found = schema["components"]["schemas"][region["signatures"]["items"]["$ref"].rsplit("/", 1)[1]]["properties"]
    assert set(found) == {"box", "confidence"}


def test_swagger_ui_and_schema_are_served_to_signed_in_users(client_for):
    client = client_for("clerk")
    assert client.get("/api/v1/docs/").status_code == 200
    assert client.get("/api/v1/schema/").status_code == 200
