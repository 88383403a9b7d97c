"""The typed client against the OpenAPI schema the backend serves (generated here from its code)."""

from __future__ import annotations

import pytest
import shapes
from pydantic import BaseModel
from schema_check import answer_problems, model_mismatches, openapi_schema, response_node

from api_client import RESPONSES
from api_models import Page, Signer, Verification


@pytest.mark.parametrize("method, template", sorted(RESPONSES), ids=lambda v: v)
def test_every_field_the_client_reads_is_in_the_endpoints_schema(method, template):
    schema = openapi_schema()
    assert "/api/v1/" + template in schema["paths"], f"{template} is not an API path"
    found = response_node(schema, method, template)
    assert found is not None and found[1] is not None, f"{method} {template} has no JSON success answer"
    assert model_mismatches(RESPONSES[(method, template)], found[1], schema) == []


def test_the_served_model_card_is_the_card_class_both_sides_read():
    """ModelVersion.card is typed by sigverify.card.ModelCard: the schema's component comes from that class."""
    schema = openapi_schema()
    version = schema["components"]["schemas"]["ModelVersion"]["properties"]
    assert version["card"]["allOf"] == [{"$ref": "#/components/schemas/ModelCard"}]
    metrics = schema["components"]["schemas"]["ModelCardMetrics"]["properties"]
    assert {"validation", "held_out"} <= metrics.keys()
    assert metrics["held_out"]["additionalProperties"] == {"$ref": "#/components/schemas/ModelCardEvaluation"}


def test_the_check_catches_a_model_that_reads_what_the_api_does_not_send():
    schema = openapi_schema()
    node = schema["components"]["schemas"]["Signer"]

    class Misspelt(BaseModel):
        external_ID: str

    class WrongType(BaseModel):
        reference_count: str

    class NullRefused(BaseModel):
        review: dict  # Verification.review may be null

    assert model_mismatches(Misspelt, node, schema) == ["Misspelt.external_ID: not in the schema"]
    assert model_mismatches(WrongType, node, schema) == [
        "WrongType.reference_count: the model reads str, the schema says integer"
    ]
    problems = model_mismatches(NullRefused, schema["components"]["schemas"]["Verification"], schema)
    assert "NullRefused.review: the schema may send null, the model refuses it" in problems
    assert model_mismatches(Page[Signer], schema["components"]["schemas"]["PaginatedSignerList"], schema) == []
    assert model_mismatches(Verification, schema["components"]["schemas"]["Signer"], schema)  # wrong component


def test_the_answer_check_refuses_fields_the_api_never_sends_and_missing_ones():
    assert answer_problems("GET", "signers/4/", 200, shapes.signer(), "application/json") == []
    assert answer_problems(
        "GET", "signers/4/", 200, {**shapes.signer(), "signer_full_name": "x"}, "application/json"
    ) == ["GET signers/4/ -> 200: body: Additional properties are not allowed ('signer_full_name' was unexpected)"]
    missing = {k: v for k, v in shapes.verification().items() if k != "thresholds"}
    assert answer_problems("GET", "verifications/9/", 200, missing, "application/json") == [
        "GET verifications/9/ -> 200: body: 'thresholds' is a required property"
    ]
    assert answer_problems("POST", "verifications/", 200, shapes.verification(), "application/json") == [
        "POST verifications/ -> 200: the API never answers 200 here"
    ]
    assert answer_problems("GET", "nowhere/", 200, {}, "application/json") == [
        "GET nowhere/ -> 200: no such endpoint in the API"
    ]
    assert answer_problems(
        "GET", "signers/4/", 404, {"detail": "Not found."}, "application/json"
    )  # not our error format
