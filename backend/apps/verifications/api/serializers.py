from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.api.serializers import ImageQualityField
from apps.core.images import parse_crop
from apps.verifications.models import Review, Verification
from sigverify.quality import CHECKS as QUALITY_CHECKS


class ReferenceGrowthSerializer(serializers.Serializer):
    added = serializers.BooleanField(help_text="Whether the signature joined the signer's references.")
    code = serializers.CharField(
        help_text="added, policy_off, reference_cap, inconsistent, already_reference, duplicate, no_references, ..."
    )
    message = serializers.CharField()
    reference = serializers.IntegerField(required=False, help_text="The new reference's id, when added.")
    score = serializers.FloatField(required=False, help_text="Its score against the references before it.")


class ReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.SlugRelatedField(slug_field="username", read_only=True)
    reference_growth = serializers.SerializerMethodField(
        help_text="After a genuine call: whether the signature was added to the signer's references "
        "(SIGVERIFY_GROW_REFERENCES), and why not. Null after a forgery call."
    )

    class Meta:
        model = Review
        fields = ["final_decision", "comment", "reviewer", "created_at", "reference_growth"]
        read_only_fields = ["reviewer", "created_at", "reference_growth"]

    @extend_schema_field(ReferenceGrowthSerializer(allow_null=True))
    def get_reference_growth(self, obj):
        return obj.reference_growth or None


class ReviewInputSerializer(serializers.Serializer):
    # The comment rule (required when overruling the model) is the service's, so the admin obeys it too.
    final_decision = serializers.ChoiceField(choices=Review.FinalDecision.choices)
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        default="",
        help_text="Why; required when the final decision overrules the model's genuine or forgery "
        "(400 `comment_required`).",
    )


class DistanceSerializer(serializers.Serializer):
    reference = serializers.IntegerField(help_text="Reference signature id.")
    distance = serializers.FloatField(help_text="Cosine distance: 0 identical, larger is less alike.")


class ThresholdsSerializer(serializers.Serializer):
    accept = serializers.FloatField(help_text="Score at or above: genuine.")
    reject = serializers.FloatField(help_text="Score below: forgery. Between the two: refer.")
    eer = serializers.FloatField(allow_null=True, required=False)
    references = serializers.IntegerField(
        allow_null=True,
        required=False,
        help_text="The R whose pair these are (the largest fitted R at or below the verification's); "
        "null when the model version has one pair for every R.",
    )
    cheque = serializers.BooleanField(
        required=False,
        help_text='Present where the box was found on a whole cheque ("crop": "auto"): true when the pair is the '
        "stricter of the R's own and the version's pair fitted on signatures cut from cheques; false when the "
        "version has no such pair (a forgery call is then referred, reason `whole_cheque`).",
    )


class DecisionReasonSerializer(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=["image_quality", "whole_cheque"],
        help_text="`image_quality`: the image failed a quality check; `whole_cheque`: it scored as a forgery on a "
        "box found on a whole cheque and the model version has no operating points fitted on cheques, so a person "
        "checks it. Either way decided `refer`.",
    )
    checks = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(QUALITY_CHECKS)),
        help_text="The checks that failed (none for `whole_cheque`): "
        + "; ".join(f"`{k}`: {v}" for k, v in QUALITY_CHECKS.items())
        + ".",
    )
    message = serializers.CharField(help_text="One sentence for the clerk.")


class VerificationSerializer(serializers.ModelSerializer):
    signer_external_id = serializers.CharField(source="signer.external_id", read_only=True)
    signer_name = serializers.CharField(source="signer.full_name", read_only=True)
    model_version = serializers.CharField(source="model_version.name", read_only=True)
    model_version_id = serializers.IntegerField(read_only=True)
    requested_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="Username of the caller; null once deleted."
    )
    quality = ImageQualityField(read_only=True)
    reason = DecisionReasonSerializer(
        read_only=True,
        allow_null=True,
        help_text="Why the decision is not the score's (an image that failed a quality check is referred); "
        "null when it is.",
    )
    distances = DistanceSerializer(many=True, read_only=True)
    thresholds = ThresholdsSerializer(read_only=True)
    reference_count = serializers.IntegerField(
        read_only=True, help_text="R: how many of the signer's references it was compared with."
    )
    scoring = serializers.CharField(
        read_only=True,
        help_text="signer_classifier, writer_independent, or writer_independent_pending: the version fuses a "
        "signer classifier but the refit on the current references had not run yet (distances only).",
    )
    crop = serializers.ListField(child=serializers.IntegerField(), allow_null=True, read_only=True)
    review = serializers.SerializerMethodField()
    image_url = serializers.SerializerMethodField()
    preprocessed_url = serializers.SerializerMethodField()

    class Meta:
        model = Verification
        fields = [
            "id",
            "signer",
            "signer_external_id",
            "signer_name",
            "decision",
            "reason",
            "score",
            "z_score",
            "distances",
            "thresholds",
            "reference_count",
            "scoring",
            "model_version",
            "model_version_id",
            "cheque_reference",
            "crop",
            "image_sha256",
            "quality",
            "requested_by",
            "created_at",
            "processing_ms",
            "batch",
            "review",
            "image_url",
            "preprocessed_url",
        ]
        read_only_fields = fields

    def _url(self, name, obj) -> str:
        path = reverse(name, kwargs={"pk": obj.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    @extend_schema_field(ReviewSerializer(allow_null=True))
    def get_review(self, obj):
        if self.context.get("new"):  # the answer to the POST that created it
            return None
        review = getattr(obj, "review", None) if _has_review(obj) else None
        return ReviewSerializer(review).data if review else None

    def get_image_url(self, obj) -> str:
        return self._url("verification-image", obj)

    def get_preprocessed_url(self, obj) -> str:
        return self._url("verification-preprocessed", obj)


def _has_review(obj) -> bool:
    try:
        obj.review  # noqa: B018  (the reverse one-to-one raises when there is no review)
    except Review.DoesNotExist:
        return False
    return True


@extend_schema_field(OpenApiTypes.STR)
class CropField(serializers.Field):
    """``x,y,width,height`` in pixels (also accepts a JSON list)."""

    default_error_messages = {"invalid": "{message}"}

    def to_internal_value(self, data):
        try:
            return parse_crop(data)
        except ValueError as exc:
            self.fail("invalid", message=str(exc))

    def to_representation(self, value):
        return ",".join(str(v) for v in value) if value else None


class VerifyInputSerializer(serializers.Serializer):
    signer = serializers.CharField(max_length=64, help_text="Signer id or external id.")
    image = serializers.FileField(
        allow_empty_file=True,
        use_url=False,
        help_text="The questioned signature or a cheque scan: PNG, JPEG, TIFF (also bilevel CCITT group 4; of a "
        "multi-page TIFF, page 1, the front of the cheque, is used), BMP, GIF or WebP.",
    )
    crop = CropField(
        required=False,
        allow_null=True,
        help_text="Optional signature box in the image, in pixels: `x,y,width,height` (e.g. `120,40,600,180`).",
    )
    cheque_reference = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")


class SignatureRegionInputSerializer(serializers.Serializer):
    image = serializers.FileField(
        allow_empty_file=True,
        use_url=False,
        help_text="A whole-cheque scan, in any format `verifications/` takes (of a multi-page TIFF, page 1).",
    )


class CropBoxSerializer(serializers.Serializer):
    x = serializers.IntegerField(help_text="Left edge, in pixels of the image as uploaded.")
    y = serializers.IntegerField(help_text="Top edge.")
    width = serializers.IntegerField()
    height = serializers.IntegerField()


class FoundSignatureSerializer(serializers.Serializer):
    box = CropBoxSerializer(help_text="The signature's box, in pixels of the image as uploaded.")
    confidence = serializers.FloatField(help_text="0 to 1: how sure the finder is that this box holds a signature.")


class SignatureRegionSerializer(serializers.Serializer):
    crop = CropBoxSerializer(help_text="The proposed signature box; send it as `crop=x,y,width,height`.")
    image_width = serializers.IntegerField()
    image_height = serializers.IntegerField()
    found = serializers.BooleanField(
        help_text="False when no ink was found in the lower right: the box is then the usual place of a signature."
    )
    code_line_top = serializers.IntegerField(
        allow_null=True, help_text="First row of the code (MICR) line at the bottom, which the box stays above."
    )
    signatures = FoundSignatureSerializer(
        many=True,
        help_text="Every signature found on the cheque (joint and company accounts have two), most confident first; "
        "empty when none was found. `crop` stays the one box a single-signature client uses.",
    )
