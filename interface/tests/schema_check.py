"""The backend's OpenAPI schema, and two checks against it that the interface tests share.

- ``model_mismatches``: does a typed model (``api_models``) read only fields that the schema's
  component has, with compatible types? (The client is typed against the schema.)
- ``answer_problems``: does a JSON answer fit the schema of its endpoint, with no field the
  schema does not declare? (The fake API answers only in the real shapes.)

The schema is generated in-process by drf-spectacular from the backend's code, exactly what
``GET /api/v1/schema/`` serves; pytest-django has configured Django for the whole session.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import operator
import re
import types
import typing
from typing import Any

import jsonschema
from pydantic import BaseModel

PREFIX = "/api/v1/"
REF = "#/components/schemas/"


@functools.cache
def openapi_schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    raw = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(json.dumps(raw, default=str))  # plain JSON types only


def component(schema: dict, name: str) -> dict:
    return schema["components"]["schemas"][name]


def deref(schema: dict, node: dict) -> dict:
    """Follow ``$ref`` and single-entry ``allOf`` wrappers (drf-spectacular's way to add readOnly/nullable)."""
    while True:
        if "$ref" in node:
            node = {**component(schema, node["$ref"][len(REF) :]), **{k: v for k, v in node.items() if k != "$ref"}}
        elif len(node.get("allOf", [])) == 1:
            rest = {k: v for k, v in node.items() if k != "allOf"}
            node = {**deref(schema, node["allOf"][0]), **rest}
        else:
            return node


# -- the typed models against the schema ----------------------------------------------------


def _optional(annotation) -> tuple[Any, bool]:
    """(annotation without None, whether None is allowed)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        allows_none = len(args) < len(typing.get_args(annotation))
        return functools.reduce(operator.or_, args), allows_none
    return annotation, False


def _type_problems(schema: dict, annotation, node: dict, where: str, seen: set) -> list[str]:
    node = deref(schema, node)
    annotation, _ = _optional(annotation)
    kind = node.get("type")
    origin = typing.get_origin(annotation)
    if annotation is typing.Any:
        return []
    if origin is typing.Annotated:  # a constrained type (the card's positive sizes): compare its base type
        return _type_problems(schema, typing.get_args(annotation)[0], node, where, seen)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if kind not in (None, "object"):
            return [f"{where}: the model reads an object, the schema says {kind}"]
        return model_mismatches(annotation, node, schema, where, seen)
    if origin is list:
        if kind != "array":
            return [f"{where}: the model reads a list, the schema says {kind}"]
        return _type_problems(schema, typing.get_args(annotation)[0], node.get("items", {}), f"{where}[]", seen)
    if origin is dict:
        if kind != "object":
            return [f"{where}: the model reads a mapping, the schema says {kind}"]
        values = node.get("additionalProperties")
        if not isinstance(values, dict):
            return [] if values in (None, True) else [f"{where}: the schema allows no keys"]
        return _type_problems(schema, typing.get_args(annotation)[1], values, f"{where}{{}}", seen)
    if origin is typing.Literal:
        allowed = set(node.get("enum") or [])
        missing = allowed - set(typing.get_args(annotation))
        return [f"{where}: the API may send {sorted(missing)}, the model refuses them"] if missing else []
    expected = {
        int: {"integer"},
        float: {"number", "integer"},
        str: {"string"},
        bool: {"boolean"},
        dt.datetime: {"string"},
        dt.date: {"string"},
    }.get(annotation)
    if expected is None:
        return [f"{where}: no rule to compare {annotation!r} with the schema"]
    if kind not in expected:
        return [f"{where}: the model reads {getattr(annotation, '__name__', annotation)}, the schema says {kind}"]
    if annotation is dt.datetime and node.get("format") != "date-time":
        return [f"{where}: the model reads a date-time, the schema's string has format {node.get('format')}"]
    return []


def model_mismatches(
    model: type[BaseModel], node: dict, schema: dict, where: str = "", seen: set | None = None
) -> list[str]:
    """Every field ``model`` reads must be in the component ``node`` (a schema object), compatibly typed.

    A field the model requires must be required and non-null in the schema; a field the schema
    may leave out or send as null must have a default or accept None in the model.
    """
    seen = set() if seen is None else seen
    node = deref(schema, node)
    key = (model, json.dumps(node, sort_keys=True))
    if key in seen:
        return []
    seen.add(key)
    where = where or model.__name__
    properties, required = node.get("properties", {}), set(node.get("required", []))
    problems = []
    for name, field in model.model_fields.items():
        json_name = field.alias or name
        here = f"{where}.{json_name}"
        if json_name not in properties:
            problems.append(f"{here}: not in the schema")
            continue
        prop = deref(schema, properties[json_name])
        _, allows_none = _optional(field.annotation)
        if field.is_required() and json_name not in required:
            problems.append(f"{here}: the model requires it, the schema may leave it out")
        if prop.get("nullable") and not allows_none:
            problems.append(f"{here}: the schema may send null, the model refuses it")
        problems += _type_problems(schema, field.annotation, prop, here, seen)
    return problems


def response_node(schema: dict, method: str, template: str, status: int | None = None) -> tuple[int, dict] | None:
    """(status, JSON schema) of the success answer of ``method template`` (``template`` under /api/v1/)."""
    operation = schema["paths"][PREFIX + template][method.lower()]
    for code, response in sorted(operation["responses"].items()):
        if (status is None and code.startswith("2")) or code == str(status):
            content = (response.get("content") or {}).get("application/json")
            return int(code), (content or {}).get("schema")
    return None


# -- answers against the schema -------------------------------------------------------------


def match_path(schema: dict, path: str) -> str | None:
    """The schema's path template (under /api/v1/) that ``path`` (relative to /api/v1/) falls under."""
    for template in schema["paths"]:
        pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, PREFIX + path):
            return template[len(PREFIX) :]
    return None


def _json_schema(node, strict: bool):
    """OpenAPI 3.0 to JSON Schema: ``nullable`` as a null type; with ``strict`` no undeclared properties."""
    if isinstance(node, list):
        return [_json_schema(item, strict) for item in node]
    if not isinstance(node, dict):
        return node
    node = {k: _json_schema(v, strict) for k, v in node.items()}
    if strict and "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    if node.pop("nullable", False):
        node = {"anyOf": [node, {"type": "null"}]}
    return node


@functools.cache
def _components(strict: bool) -> dict:
    return _json_schema(copy.deepcopy(openapi_schema()["components"]), strict)


ERROR_BODY = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "additionalProperties": False,
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "fields": {"type": "object"}},
        }
    },
}


def answer_problems(method: str, path: str, status: int, body: Any, content_type: str) -> list[str]:
    """Why an answer of ``method path`` (path relative to /api/v1/) is not one the real API gives."""
    schema = openapi_schema()
    what = f"{method} {path} -> {status}"
    template = match_path(schema, path)
    if template is None:
        return [f"{what}: no such endpoint in the API"]
    if method.lower() not in schema["paths"][PREFIX + template]:
        return [f"{what}: the API has no {method} on {template}"]
    if status >= 400:
        problems = [f"{what}: {e.message}" for e in jsonschema.Draft202012Validator(ERROR_BODY).iter_errors(body)]
        return problems
    found = response_node(schema, method, template, status)
    if found is None:
        return [f"{what}: the API never answers {status} here"]
    _, node = found
    if node is None:
        if content_type == "application/json" and body is not None:
            return [f"{what}: the API sends no JSON body here"]
        return []
    if node.get("format") == "binary":
        return [] if content_type.startswith("image/") else [f"{what}: an image was expected, not {content_type}"]
    validator = jsonschema.Draft202012Validator({"components": _components(True), **_json_schema(node, True)})
    return [
        f"{what}: {'/'.join(str(p) for p in e.absolute_path) or 'body'}: {e.message}"
        for e in validator.iter_errors(body)
    ]
