"""OpenAPI for pydantic models (the model card): a JSON field typed by a pydantic class.

drf-spectacular's own pydantic extension passes on pydantic's JSON Schema as it is: optional
fields come out as ``anyOf: [..., {"type": "null"}]``, which OpenAPI 3.0 (what this API serves)
does not know. This extension rewrites them to 3.0's ``nullable`` and puts each nested model in
``components`` under a prefixed name (``ModelCardThresholds``), so it never takes the place of
a serializer's component of the same name.
"""

from __future__ import annotations

import sys

from drf_spectacular.contrib.pydantic import PydanticExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import extend_schema_field

_REF = "#/components/schemas/"
_PLACEHOLDER = "__pydantic__"


def _prefix(model: type) -> str:
    """A module names the prefix of its models' components with ``OPENAPI_PREFIX``."""
    return getattr(sys.modules.get(model.__module__), "OPENAPI_PREFIX", "")


def _component_name(prefix: str, name: str) -> str:
    return name if name.startswith(prefix) else f"{prefix}{name}"


def openapi_30(node, prefix: str = ""):
    """Pydantic's JSON Schema as OpenAPI 3.0: nullable instead of a null type, prefixed refs,
    boolean exclusive bounds, ``items`` for tuples."""
    if isinstance(node, list):
        return [openapi_30(item, prefix) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: openapi_30(value, prefix) for key, value in node.items()}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF + _PLACEHOLDER):
        node["$ref"] = _REF + _component_name(prefix, ref[len(_REF + _PLACEHOLDER) :])
    if "const" in node:
        node["enum"] = [node.pop("const")]
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if type(node.get(bound)) in (int, float):  # 2020-12's number is 3.0's boolean on the plain bound
            node[plain], node[bound] = node[bound], True
    if isinstance(node.get("prefixItems"), list):  # a tuple: 3.0 has one ``items`` schema
        items = node.pop("prefixItems")
        node["items"] = items[0] if all(item == items[0] for item in items) else {"anyOf": items}
    for key in ("anyOf", "oneOf"):
        options = node.get(key)
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [option for option in options if option != {"type": "null"}]
            del node[key]
            if len(rest) == 1 and "$ref" in rest[0]:
                node["allOf"] = rest
            elif len(rest) == 1:
                node = {**rest[0], **node}
            else:
                node[key] = rest
            node["nullable"] = True
    return node


class PydanticSchema(PydanticExtension):
    """Wins over drf-spectacular's own pydantic extension (``priority``)."""

    priority = 1

    def get_name(self, auto_schema, direction):
        super().get_name(auto_schema, direction)
        return _component_name(_prefix(self.target), self.target.__name__)

    def map_serializer(self, auto_schema, direction):
        from pydantic.json_schema import model_json_schema

        prefix = _prefix(self.target)
        schema = model_json_schema(self.target, ref_template=_REF + _PLACEHOLDER + "{model}", mode="serialization")
        for name, sub_schema in schema.pop("$defs", {}).items():
            component_name = _component_name(prefix, name)
            auto_schema.registry.register_on_missing(
                ResolvedComponent(
                    name=component_name,
                    type=ResolvedComponent.SCHEMA,
                    object=component_name,
                    schema=openapi_30(sub_schema, prefix),
                )
            )
        return openapi_30(schema, prefix)


def pydantic_schema_field(model: type):
    """``extend_schema_field`` for a serializer field whose JSON is an instance of ``model``."""
    return extend_schema_field(model)
