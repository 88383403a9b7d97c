from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class ImageQualitySerializer(serializers.Serializer):
    """What preprocessing measured on an image (``sigverify.preprocess.Quality``); older rows may lack some."""

    width = serializers.IntegerField(required=False)
    height = serializers.IntegerField(required=False)
    ink_fraction = serializers.FloatField(required=False)
    ink_box = serializers.ListField(child=serializers.IntegerField(), required=False, help_text="x, y, width, height")
    threshold = serializers.FloatField(required=False)
    paper_level = serializers.FloatField(required=False)
    checks_failed = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Quality checks the image failed (`dithered`, `faint`, `fragmented`, `clipped`, `too_small`); "
        "empty when usable.",
    )
    descreened = serializers.BooleanField(required=False, help_text="A dithered scan, low-pass filtered first.")
    printed_removed = serializers.IntegerField(
        required=False, help_text="Ink pixels of printed lines, box edges and legend removed before embedding."
    )
    preprocess_version = serializers.CharField(required=False)


@extend_schema_field(ImageQualitySerializer)
class ImageQualityField(serializers.JSONField):
    """The stored quality dict, passed through as it is; typed in the schema."""


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
