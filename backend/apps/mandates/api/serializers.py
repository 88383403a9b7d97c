from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.mandates import rules
from apps.mandates.models import BankAccount, ChequeDecision, ChequeReview, Mandate, Signatory


class MandateSerializer(serializers.ModelSerializer):
    changed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    words = serializers.SerializerMethodField(help_text="The rule in words, one line per band.")

    class Meta:
        model = Mandate
        fields = ["id", "bands", "words", "reason", "changed_by", "changed_at", "previous_bands"]
        read_only_fields = fields

    def get_words(self, obj) -> list[str]:
        return rules.describe_mandate(rules.bands_from_dicts(obj.bands))


class MandateInputSerializer(serializers.Serializer):
    # The bands are checked by apps.mandates.rules (field names such as bands[1].up_to), not here.
    bands = serializers.JSONField(
        help_text='[{"up_to": "1000.00" or null, "any_of": [[{"group": "A", "count": 2}], ...]}]: ordered by up_to, '
        'only the last open; group "*" means any signatory.'
    )
    reason = serializers.CharField(allow_blank=True, max_length=2000, help_text="Why: kept in the audit trail.")


class MandateWordsInputSerializer(serializers.Serializer):
    bands = serializers.JSONField(help_text="As for setting the mandate: checked the same way, nothing is stored.")


class MandateWordsSerializer(serializers.Serializer):
    words = serializers.ListField(child=serializers.CharField(), help_text="The rule in words, one line per band.")


class SignatorySerializer(serializers.ModelSerializer):
    signer = serializers.CharField(source="signer.external_id", read_only=True)
    signer_name = serializers.CharField(source="signer.full_name", read_only=True)
    signer_status = serializers.CharField(source="signer.status", read_only=True)

    class Meta:
        model = Signatory
        fields = ["id", "signer", "signer_name", "signer_status", "group", "limit", "valid_from", "valid_until"]
        read_only_fields = fields


class AccountSerializer(serializers.ModelSerializer):
    signatory_count = serializers.IntegerField(read_only=True, default=0)
    signatories = SignatorySerializer(many=True, read_only=True)
    mandate = serializers.SerializerMethodField()

    class Meta:
        model = BankAccount
        fields = [
            "number",
            "name",
            "status",
            "always_refer",
            "instruction",
            "signatory_count",
            "signatories",
            "mandate",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["signatory_count", "signatories", "mandate", "created_at", "updated_at"]
        extra_kwargs = {"number": {"validators": []}}  # uniqueness: the service answers 409

    @extend_schema_field(MandateSerializer(allow_null=True))
    def get_mandate(self, obj):
        from apps.mandates.selectors import current_mandate

        mandate = current_mandate(obj)
        return MandateSerializer(mandate).data if mandate else None


class AccountUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = BankAccount
        fields = ["name", "status", "always_refer", "instruction"]


class SignatoryInputSerializer(serializers.Serializer):
    signer = serializers.CharField(max_length=64, help_text="The signer's external id (or id).")
    group = serializers.CharField(max_length=32, default="A", help_text="Group or panel, e.g. A, B, directors.")
    limit = serializers.DecimalField(
        max_digits=15, decimal_places=2, allow_null=True, required=False, default=None, min_value=0
    )
    valid_from = serializers.DateField(allow_null=True, required=False, default=None)
    valid_until = serializers.DateField(allow_null=True, required=False, default=None)


class ChequeInputSerializer(serializers.Serializer):
    account = serializers.CharField(max_length=34, help_text="The account number the cheque is drawn on.")
    amount = serializers.CharField(max_length=32, help_text="The amount, e.g. 1250.00.")
    image = serializers.FileField(
        allow_empty_file=True, use_url=False, help_text="The cheque's front: PNG, JPEG, TIFF (page 1), BMP, GIF, WebP."
    )
    cheque_reference = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    cheque_date = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="Date on the cheque (default today)."
    )


class ChequeReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ChequeReview
        fields = ["id", "outcome", "comment", "reviewer", "created_at"]
        read_only_fields = fields


class ChequeReviewInputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=ChequeReview.Outcome.choices)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class CandidateSerializer(serializers.Serializer):
    signer = serializers.CharField(help_text="The signatory's external id.")
    name = serializers.CharField()
    score = serializers.FloatField(help_text="Calibrated score against their references (higher: more alike).")
    decision = serializers.CharField(help_text="genuine, refer or forgery at the thresholds used.")
    accept = serializers.FloatField(required=False, help_text="Accept threshold for this signatory's R.")
    reject = serializers.FloatField(required=False)
    reference_count = serializers.IntegerField(required=False, help_text="R: their references compared with.")
    scoring = serializers.CharField(
        required=False,
        help_text=(
            "signer_classifier (the signatory's own classifier fused in), writer_independent (the model "
            "fuses none) or writer_independent_pending (not yet fitted on these references), as for a verification."
        ),
    )
    references = serializers.ListField(child=serializers.IntegerField(), help_text="Reference ids, most similar first.")


class ChequeThresholdsSerializer(serializers.Serializer):
    accept = serializers.FloatField(help_text="A match is confident (genuine) at or above this score.")
    reject = serializers.FloatField(help_text="Below this score: no match (forgery).")
    eer = serializers.FloatField(allow_null=True, required=False)
    amount_rule_above = serializers.CharField(
        required=False, help_text="Set when the bank's amount rule above this amount made accept stricter."
    )
    accept_far_skilled = serializers.FloatField(required=False)
    stricter_accept = serializers.FloatField(required=False, help_text="The amount rule's accept threshold.")


class SignatureResultSerializer(serializers.Serializer):
    box = serializers.ListField(child=serializers.IntegerField(), help_text="[x, y, width, height] in the image.")
    signer = serializers.CharField(allow_null=True, help_text="External id of the signatory it matched, or null.")
    decision = serializers.CharField(help_text="genuine, refer or forgery (matches no signatory).")
    score = serializers.FloatField(allow_null=True)
    finder_confidence = serializers.FloatField(
        allow_null=True, required=False, help_text="How sure the signature finder is that the box holds a signature."
    )
    scoring = serializers.CharField(
        allow_null=True,
        required=False,
        help_text="The matched signatory's candidate's scoring; null when none matched.",
    )
    candidates = CandidateSerializer(many=True, help_text="Every signatory compared, best first.")


class MandateOutcomeSerializer(serializers.Serializer):
    band = serializers.IntegerField(allow_null=True)
    satisfied = serializers.BooleanField(allow_null=True)
    reasons = serializers.ListField(child=serializers.CharField())


class ChequeDecisionSerializer(serializers.ModelSerializer):
    account = serializers.CharField(source="account.number", read_only=True)
    account_name = serializers.CharField(source="account.name", read_only=True)
    instruction = serializers.CharField(source="account.instruction", read_only=True)
    signatures = serializers.SerializerMethodField()
    mandate = serializers.SerializerMethodField()
    model_version = serializers.CharField(source="model_version.name", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    reviews = ChequeReviewSerializer(many=True, read_only=True)
    thresholds = ChequeThresholdsSerializer(read_only=True)
    image_url = serializers.SerializerMethodField()

    class Meta:
        model = ChequeDecision
        fields = [
            "id",
            "decision",
            "signatures",
            "mandate",
            "account",
            "account_name",
            "instruction",
            "amount",
            "cheque_date",
            "cheque_reference",
            "thresholds",
            "model_version",
            "requested_by",
            "created_at",
            "processing_ms",
            "reviews",
            "image_url",
        ]
        read_only_fields = fields

    @extend_schema_field(SignatureResultSerializer(many=True))
    def get_signatures(self, obj):
        return obj.signatures

    @extend_schema_field(MandateOutcomeSerializer)
    def get_mandate(self, obj):
        return {"band": obj.band, "satisfied": obj.satisfied, "reasons": obj.reasons}

    @extend_schema_field(OpenApiTypes.URI)
    def get_image_url(self, obj) -> str:
        path = reverse("cheque-image", kwargs={"pk": obj.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path
