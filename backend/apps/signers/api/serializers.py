from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.api.serializers import ImageQualityField
from apps.signers.models import ReferenceSignature, Signer


class SignerSerializer(serializers.ModelSerializer):
    reference_count = serializers.IntegerField(
        read_only=True, default=0, help_text="Active references: what verifications compare with."
    )
    pending_reference_count = serializers.IntegerField(
        read_only=True, default=0, help_text="Flagged references waiting for a person to accept or reject them."
    )

    class Meta:
        model = Signer
        fields = [
            "id",
            "external_id",
            "full_name",
            "status",
            "reference_count",
            "pending_reference_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "reference_count", "pending_reference_count", "created_at", "updated_at"]


class ReferenceFlagSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="inconsistent_reference")
    message = serializers.CharField()
    score = serializers.FloatField(help_text="Its score against the signer's other references.")
    reject_threshold = serializers.FloatField(help_text="The reject threshold in force for that many references.")
    compared_with = serializers.IntegerField(help_text="How many references it was scored against.")
    model_version = serializers.CharField()


class ReferenceSerializer(serializers.ModelSerializer):
    enrolled_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Username of who enrolled it; null once deleted.",
    )
    quality = ImageQualityField(read_only=True)
    model_versions = serializers.SerializerMethodField(help_text="Ids of the model versions that embedded it.")
    flag = serializers.SerializerMethodField(
        help_text="Why it was kept out of use at upload (null when it was not flagged)."
    )
    reviewed_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="Who accepted or rejected the flagged one."
    )
    image_url = serializers.SerializerMethodField()
    preprocessed_url = serializers.SerializerMethodField()

    class Meta:
        model = ReferenceSignature
        fields = [
            "id",
            "signer",
            "sha256",
            "original_name",
            "content_type",
            "quality",
            "model_versions",
            "status",
            "flag",
            "source",
            "source_verification_id",
            "enrolled_by",
            "created_at",
            "reviewed_by",
            "reviewed_at",
            "image_url",
            "preprocessed_url",
        ]
        read_only_fields = fields

    def _url(self, name, obj) -> str:
        # The external id: it always wins the id-or-external-id lookup, so the link is unambiguous.
        path = reverse(name, kwargs={"signer_key": obj.signer.external_id, "pk": obj.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    @extend_schema_field(ReferenceFlagSerializer(allow_null=True))
    def get_flag(self, obj):
        return obj.flag or None

    def get_model_versions(self, obj) -> list[int]:
        return sorted(e.model_version_id for e in obj.embeddings.all())

    def get_image_url(self, obj) -> str:
        return self._url("signer-reference-image", obj)

    def get_preprocessed_url(self, obj) -> str:
        return self._url("signer-reference-preprocessed", obj)


class ReferenceUploadSerializer(serializers.Serializer):
    images = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True, use_url=False),
        allow_empty=False,
        help_text="One or more signature images (repeat the field). Each is checked on its own.",
    )

    def validate_images(self, value):
        from django.conf import settings

        if len(value) > settings.SIGVERIFY_MAX_FILES_PER_UPLOAD:
            raise serializers.ValidationError(f"at most {settings.SIGVERIFY_MAX_FILES_PER_UPLOAD} images per request")
        return value


class ReferenceRejectionSerializer(serializers.Serializer):
    filename = serializers.CharField()
    code = serializers.CharField(
        help_text="empty_file, not_an_image, truncated_image, too_many_pixels, no_ink, "
        "bad_aspect_ratio, file_too_large, duplicate, ..."
    )
    message = serializers.CharField()


class ReferenceUploadResultSerializer(serializers.Serializer):
    accepted = ReferenceSerializer(many=True, help_text="Stored and used for verification.")
    flagged = ReferenceSerializer(
        many=True,
        help_text="Stored but far from the signer's other references (`status: pending_review`, `flag` says "
        "why): not used until a person accepts it (`POST .../references/{id}/accept/`).",
    )
    rejected = ReferenceRejectionSerializer(many=True, help_text="Not stored.")
