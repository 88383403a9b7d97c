from rest_framework import serializers


class ComponentSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    error = serializers.CharField(allow_null=True)


class DatabaseStateSerializer(ComponentSerializer):
    vendor = serializers.CharField()


class BrokerStateSerializer(ComponentSerializer):
    kind = serializers.ChoiceField(choices=["embedded", "redis"])


def health_serializer() -> type[serializers.Serializer]:
    """The report's shape: core's parts and those apps registered (call it after apps are ready)."""
    from apps.core.health import health_checks

    fields = {
        "status": serializers.ChoiceField(choices=["ok", "degraded"]),
        "database": DatabaseStateSerializer(),
        **{check.name: check.serializer() for check in health_checks()},
        "broker": BrokerStateSerializer(),
    }
    return type("HealthSerializer", (serializers.Serializer,), fields)
