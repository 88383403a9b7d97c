from django.urls import reverse
from rest_framework import serializers

from apps.core.api.serializers import ImageQualityField
from apps.signers.models import ReferenceSignature, Signer


class SignerSerializer(serializers.ModelSerializer):
    reference_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Signer
        fields = ["id", "external_id", "full_name", "status", "reference_count", "created_at", "updated_at"]
        read_only_fields = ["id", "reference_count", "created_at", "updated_at"]


class ReferenceSerializer(serializers.ModelSerializer):
    enrolled_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Username of who enrolled it; null once deleted.",
    )
    quality = ImageQualityField(read_only=True)
    model_versions = serializers.SerializerMethodField(help_text="Ids of the model versions that embedded it.")
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
            "enrolled_by",
            "created_at",
            "image_url",
            "preprocessed_url",
        ]
        read_only_fields = fields

    def _url(self, name, obj) -> str:
        # The external id: it always wins the id-or-external-id lookup, so the link is unambiguous.
        path = reverse(name, kwargs={"signer_key": obj.signer.external_id, "pk": obj.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

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
    accepted = ReferenceSerializer(many=True)
    rejected = ReferenceRejectionSerializer(many=True)
