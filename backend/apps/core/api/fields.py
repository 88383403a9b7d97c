"""DRF fields declared by a pydantic model: validated by it (strict JSON types, errors per field)
and documented by its JSON schema, so the OpenAPI schema says what the validation does."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError
from rest_framework import serializers

from sigverify.options import field_errors, validate_json_values


def openapi_schema(schema: dict) -> dict:
    """Pydantic's JSON Schema (2020-12) in the OpenAPI 3.0 dialect drf-spectacular writes:
    ``nullable`` instead of a null type, boolean exclusive bounds, ``items`` for tuples; no titles."""
    if isinstance(schema, list):
        return [openapi_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: openapi_schema(v) for k, v in schema.items() if k != "title"}
    if "properties" in schema:  # property names are data, not keywords
        out["properties"] = {name: openapi_schema(prop) for name, prop in schema["properties"].items()}
    variants = out.get("anyOf")
    if variants and {"type": "null"} in variants:
        rest = [v for v in variants if v != {"type": "null"}]
        del out["anyOf"]
        out.update(rest[0] if len(rest) == 1 else {"anyOf": rest})
        out["nullable"] = True
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), (int, float)) and not isinstance(out[bound], bool):
            out[plain], out[bound] = out[bound], True
    if "prefixItems" in out:
        items = out.pop("prefixItems")
        out["items"] = items[0] if all(i == items[0] for i in items) else {"anyOf": items}
    if "const" in out:
        out["enum"] = [out.pop("const")]
    return out


class PydanticModelField(serializers.Field):
    """A JSON object validated by ``model``: unknown keys refused, the set keys returned normalised,
    errors as ``{key: [message]}``. The schema is ``model``'s, as a component named after it."""

    def __init__(self, model: type[BaseModel], **kwargs):
        self.model = model
        kwargs.setdefault("help_text", model.model_json_schema().get("description"))
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(f"Expected an object of {self.model.__name__}.")
        try:
            return validate_json_values(self.model, data)
        except PydanticError as exc:
            raise serializers.ValidationError(field_errors(exc, self.model)) from exc

    def to_representation(self, value):
        return value

    def openapi(self, auto_schema) -> dict:
        schema = openapi_schema(self.model.model_json_schema())
        schema.pop("description", None)  # the field's help_text says it where the field is used
        component = ResolvedComponent(
            name=self.model.__name__, type=ResolvedComponent.SCHEMA, object=self.model, schema=schema
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


class PydanticField(serializers.Field):
    """One field of ``model`` as a DRF field: its type, default, limits and help, validated and documented."""

    def __init__(self, model: type[BaseModel], name: str, **kwargs):
        info = model.model_fields[name]
        self.model, self.model_field = model, name  # the model's other fields must have defaults
        if not info.is_required():
            kwargs.setdefault("default", info.get_default(call_default_factory=True))
        kwargs.setdefault("help_text", info.description)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        try:
            return validate_json_values(self.model, {self.model_field: data})[self.model_field]
        except PydanticError as exc:
            raise serializers.ValidationError(field_errors(exc, self.model)[self.model_field]) from exc

    def to_representation(self, value):
        return value

    def openapi(self, auto_schema) -> dict:
        return openapi_schema(self.model.model_json_schema()["properties"][self.model_field])


class PydanticFieldSchema(OpenApiSerializerFieldExtension):
    """drf-spectacular reads the two fields' schemas from their pydantic model."""

    target_class = PydanticModelField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        return self.target.openapi(auto_schema)


class PydanticValueFieldSchema(PydanticFieldSchema):
    target_class = PydanticField
