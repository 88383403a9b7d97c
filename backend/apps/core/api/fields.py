"""DRF fields declared by a pydantic model: validated by it (strict JSON types, errors per field)
and documented by its JSON schema (``apps.core.schema``), so the OpenAPI schema says what the
validation does."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError
from rest_framework import serializers

from apps.core.schema import openapi_30
from sigverify.options import field_errors, validate_json_values


class PydanticModelField(serializers.Field):
    """A JSON object validated by ``model``: unknown keys refused, the set keys returned normalised,
    errors as ``{key: [message]}``. Its schema is ``model``'s, a component named after it."""

    def __init__(self, model: type[BaseModel], **kwargs):
        self.model = model
        kwargs.setdefault("help_text", model.model_json_schema().get("description"))
        super().__init__(**kwargs)
        extend_schema_field(model)(self)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(f"Expected an object of {self.model.__name__}.")
        try:
            return validate_json_values(self.model, data)
        except PydanticError as exc:
            raise serializers.ValidationError(field_errors(exc, self.model)) from exc

    def to_representation(self, value):
        return value


class PydanticField(serializers.Field):
    """One field of ``model`` as a DRF field: its type, default, limits and help, validated and
    documented. The model's other fields must have defaults."""

    def __init__(self, model: type[BaseModel], name: str, **kwargs):
        info = model.model_fields[name]
        self.model, self.model_field = model, name
        if not info.is_required():
            kwargs.setdefault("default", info.get_default(call_default_factory=True))
        kwargs.setdefault("help_text", info.description)
        super().__init__(**kwargs)
        extend_schema_field(openapi_30(model.model_json_schema()["properties"][name]))(self)

    def to_internal_value(self, data):
        try:
            return validate_json_values(self.model, {self.model_field: data})[self.model_field]
        except PydanticError as exc:
            raise serializers.ValidationError(field_errors(exc, self.model)[self.model_field]) from exc

    def to_representation(self, value):
        return value
