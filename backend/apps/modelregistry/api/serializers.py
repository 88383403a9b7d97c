from rest_framework import serializers

from apps.core.api.serializers import ComponentSerializer
from apps.core.schema import pydantic_schema_field
from apps.modelregistry.models import ModelVersion, Promotion
from sigverify.card import Metrics, ModelCard, Thresholds


@pydantic_schema_field(ModelCard)
class ModelCardField(serializers.JSONField):
    """The card as registered (validated by ``sigverify.card.ModelCard``)."""


@pydantic_schema_field(Metrics)
class MetricsField(serializers.JSONField):
    """The card's ``metrics``: validation figures by R, held-out test figures by dataset and R."""


@pydantic_schema_field(Thresholds)
class ThresholdsField(serializers.JSONField):
    """The card's ``thresholds`` on the calibrated score."""


class ModelVersionSerializer(serializers.ModelSerializer):
    input_size = serializers.SerializerMethodField(help_text="Height and width the model sees, in pixels.")
    card = ModelCardField(read_only=True)
    metrics = MetricsField(read_only=True)
    thresholds = ThresholdsField(read_only=True)

    class Meta:
        model = ModelVersion
        fields = ["id", "name", "sha256", "is_active", "thresholds", "metrics", "input_size", "card", "created_at"]
        read_only_fields = fields

    def get_input_size(self, obj) -> list[int]:
        return list(obj.input_size)


class ModelVersionBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    is_active = serializers.BooleanField()


class PromotionSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username", default=None, read_only=True)
    model_version = ModelVersionBriefSerializer(read_only=True)
    previous_version = ModelVersionBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Promotion
        fields = [
            "id", "status", "model_version", "previous_version", "requested_by", "total", "done",
            "heartbeat_at", "error", "created_at", "started_at", "finished_at",
        ]
        read_only_fields = fields


# The model part of the health report (selectors.model_state), registered in apps.py.
class ModelStateSerializer(ComponentSerializer):
    state = serializers.ChoiceField(choices=["loaded", "not_loaded", "error", "no_active_version", "unknown"])
    active_version = serializers.CharField(allow_null=True, required=False)
    active_version_id = serializers.IntegerField(allow_null=True, required=False)
    sha256 = serializers.CharField(allow_null=True, required=False)
    thresholds = serializers.DictField(allow_null=True, required=False)
    inference_precision = serializers.CharField(required=False)
