from rest_framework import serializers

from apps.modelregistry.models import ModelVersion


class ModelVersionSerializer(serializers.ModelSerializer):
    input_size = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = ["id", "name", "sha256", "is_active", "thresholds", "metrics", "input_size", "card", "created_at"]
        read_only_fields = fields

    def get_input_size(self, obj) -> list[int]:
        return list(obj.input_size)
