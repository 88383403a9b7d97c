from rest_framework import serializers


class ComponentSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    error = serializers.CharField(allow_null=True)


class DatabaseStateSerializer(ComponentSerializer):
    vendor = serializers.CharField()


class ModelStateSerializer(ComponentSerializer):
    state = serializers.ChoiceField(choices=["loaded", "not_loaded", "error", "no_active_version", "unknown"])
    active_version = serializers.CharField(allow_null=True, required=False)
    active_version_id = serializers.IntegerField(allow_null=True, required=False)
    sha256 = serializers.CharField(allow_null=True, required=False)
    thresholds = serializers.DictField(allow_null=True, required=False)
    inference_precision = serializers.CharField(required=False)


class BrokerStateSerializer(ComponentSerializer):
    kind = serializers.ChoiceField(choices=["embedded", "redis"])


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "degraded"])
    database = DatabaseStateSerializer()
    model = ModelStateSerializer()
    broker = BrokerStateSerializer()
