from rest_framework import serializers

from apps.modelregistry.models import ModelVersion, Promotion


class ModelVersionSerializer(serializers.ModelSerializer):
    input_size = serializers.SerializerMethodField()

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
