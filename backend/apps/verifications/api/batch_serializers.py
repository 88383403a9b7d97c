from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from apps.verifications.models import BatchItem, VerificationBatch

from .serializers import CropField, DecisionReasonSerializer


class BatchCropField(CropField):
    """A box as ``CropField``, or ``"auto"``: the worker finds the signature on the cheque scan
    (``sigverify.cheque.find_signature_region``) and records the box it used."""

    def to_internal_value(self, data):
        if isinstance(data, str) and data.strip().lower() == "auto":
            return "auto"
        return super().to_internal_value(data)


class Base64Field(serializers.CharField):
    """Text that is base64, checked as such when the item is decoded (``batches.decode_image``:
    the item fails with ``invalid_base64``). DRF's check for surrogate characters, a Python loop
    over every character, is left out: it took most of a batch POST (a scan is 40 KB or more of
    text), and no surrogate is valid base64."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = [v for v in self.validators if not isinstance(v, ProhibitSurrogateCharactersValidator)]


class BatchItemInputSerializer(serializers.Serializer):
    signer = serializers.CharField(max_length=64, help_text="Signer id or external id.")
    image = Base64Field(
        trim_whitespace=True,
        help_text="The questioned signature or cheque scan: the file's bytes in base64 (PNG, JPEG, TIFF, ...; "
        "a `data:image/png;base64,` prefix is accepted).",
    )
    crop = BatchCropField(
        required=False,
        allow_null=True,
        help_text='Optional signature box in the image, in pixels: `[x, y, width, height]` or `"x,y,width,height"`; '
        'or `"auto"` for a whole-cheque scan: the signature box is found on the cheque, and the verification '
        "records the box used.",
    )
    cheque_reference = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")


class BatchCreateSerializer(serializers.Serializer):
    items = BatchItemInputSerializer(
        many=True, allow_empty=False, help_text="1 to SIGVERIFY_BATCH_MAX_ITEMS (default 500) items."
    )

    def to_internal_value(self, data):
        limit = settings.SIGVERIFY_BATCH_MAX_ITEMS
        items = data.get("items") if isinstance(data, dict) else None
        if isinstance(items, list) and len(items) > limit:
            raise serializers.ValidationError(
                {"items": [f"A batch holds at most {limit} items; this one has {len(items)}. Split it."]}
            )
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError(_by_index(exc.detail)) from None


def _by_index(detail):
    """Item errors as ``{"items": {"7": {...}}}``: only the bad items, by their position."""
    items = detail.get("items") if isinstance(detail, dict) else None
    if isinstance(items, list) and any(isinstance(e, dict) for e in items):
        detail = {**detail, "items": {str(i): e for i, e in enumerate(items) if e}}
    return detail


class ItemErrorSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="e.g. no_ink, not_an_image, invalid_base64, signer_not_found, signer_suspended."
    )
    message = serializers.CharField()


class BatchItemSerializer(serializers.ModelSerializer):
    signer = serializers.CharField(source="signer_key")
    decision = serializers.CharField(source="verification.decision", allow_null=True, default=None)
    reason = DecisionReasonSerializer(
        source="verification.reason",
        allow_null=True,
        default=None,
        help_text="Why the item was referred whatever its score (an image that failed a quality check); or null.",
    )
    score = serializers.FloatField(source="verification.score", allow_null=True, default=None)
    reference_count = serializers.IntegerField(
        source="verification.reference_count",
        allow_null=True,
        default=None,
        help_text="R: how many references the item was compared with.",
    )
    error = serializers.SerializerMethodField()

    class Meta:
        model = BatchItem
        fields = [
            "index",
            "signer",
            "cheque_reference",
            "status",
            "verification",
            "decision",
            "reason",
            "score",
            "reference_count",
            "error",
        ]
        read_only_fields = fields
        extra_kwargs = {"verification": {"help_text": "Id of the verification log row (GET /verifications/{id}/)."}}

    @extend_schema_field(ItemErrorSerializer(allow_null=True))
    def get_error(self, obj):
        return {"code": obj.error_code, "message": obj.error_message} if obj.status == BatchItem.Status.FAILED else None


class ProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(help_text="Items finished: verified or failed.")
    total = serializers.IntegerField()
    failed = serializers.IntegerField(help_text="Items that failed (their error says why).")


class VerificationBatchSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    progress = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = VerificationBatch
        fields = [
            "id",
            "status",
            "progress",
            "error",
            "requested_by",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
            "url",
        ]
        read_only_fields = fields

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, obj):
        return {"done": obj.items_done, "total": obj.total, "failed": obj.items_failed}

    def get_url(self, obj) -> str:
        path = reverse("verification-batch-detail", kwargs={"pk": obj.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class VerificationBatchDetailSerializer(VerificationBatchSerializer):
    items = serializers.SerializerMethodField()

    class Meta(VerificationBatchSerializer.Meta):
        fields = VerificationBatchSerializer.Meta.fields + ["items"]
        read_only_fields = fields

    @extend_schema_field(BatchItemSerializer(many=True))
    def get_items(self, obj):
        from apps.verifications.selectors import batch_items

        return BatchItemSerializer(batch_items(obj), many=True).data
