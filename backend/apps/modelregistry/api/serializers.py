from rest_framework import serializers

from apps.core.api.serializers import ComponentSerializer
from apps.core.schema import pydantic_schema_field
from apps.modelregistry.models import ModelVersion, PolicyChange, Promotion
from sigverify.card import Metrics, ModelCard, Thresholds
from sigverify.policy import TARGET_MAX, TARGET_MIN

TARGET_HELP = f"a fraction between {TARGET_MIN} and {TARGET_MAX} (0.1% to 5%)"


@pydantic_schema_field(ModelCard)
class ModelCardField(serializers.JSONField):
    """The card as registered (validated by ``sigverify.card.ModelCard``)."""


@pydantic_schema_field(Metrics)
class MetricsField(serializers.JSONField):
    """The card's ``metrics``: validation figures by R, held-out test figures by dataset and R."""


@pydantic_schema_field(Thresholds)
class ThresholdsField(serializers.JSONField):
    """The card's ``thresholds`` on the calibrated score."""


class ModelVersionSerializer(serializers.ModelSerializer):
    input_size = serializers.SerializerMethodField(help_text="Height and width the model sees, in pixels.")
    card = ModelCardField(read_only=True)
    metrics = MetricsField(read_only=True)
    thresholds = ThresholdsField(read_only=True, help_text="The thresholds in force (they follow the policy).")
    policy = serializers.SerializerMethodField(help_text="The operating policy: far_skilled and frr targets.")

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "name",
            "sha256",
            "is_active",
            "thresholds",
            "policy",
            "metrics",
            "input_size",
            "card",
            "created_at",
        ]
        read_only_fields = fields

    def get_input_size(self, obj) -> list[int]:
        return list(obj.input_size)

    def get_policy(self, obj) -> dict[str, float]:
        return {"far_skilled": obj.policy_far_skilled, "frr": obj.policy_frr}


class ModelVersionBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    is_active = serializers.BooleanField()


class PromotionSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username", default=None, read_only=True, allow_null=True)
    model_version = ModelVersionBriefSerializer(read_only=True)
    previous_version = ModelVersionBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Promotion
        fields = [
            "id",
            "status",
            "model_version",
            "previous_version",
            "requested_by",
            "total",
            "done",
            "heartbeat_at",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        return super().to_representation(instance.as_seen())  # a promotion whose worker died shows as failed


class LoadedVersionSerializer(serializers.Serializer):
    version_id = serializers.IntegerField()
    sha256 = serializers.CharField()
    inference = serializers.CharField(help_text="torch-fp32, torch-bf16, onnx-fp32 or onnx-int8.")
    inference_reason = serializers.CharField(allow_blank=True)
    precision = serializers.CharField()


# The model part of the health report (selectors.model_state), registered in apps.py.
class ModelStateSerializer(ComponentSerializer):
    state = serializers.ChoiceField(choices=["loaded", "not_loaded", "error", "no_active_version", "unknown"])
    active_version = serializers.CharField(allow_null=True, required=False)
    active_version_id = serializers.IntegerField(allow_null=True, required=False)
    sha256 = serializers.CharField(allow_null=True, required=False)
    thresholds = ThresholdsField(allow_null=True, required=False)
    inference_precision = serializers.CharField(required=False)
    inference = serializers.CharField(
        required=False,
        help_text="What embeds for the active version: torch-fp32, torch-bf16, onnx-fp32 or onnx-int8 once loaded "
        "in this process; before that the configured SIGVERIFY_INFERENCE (auto, torch, onnx, onnx-int8).",
    )
    inference_reason = serializers.CharField(required=False, allow_null=True)
    loaded_versions = LoadedVersionSerializer(many=True, required=False)


class PolicyTargetsSerializer(serializers.Serializer):
    far_skilled = serializers.FloatField(
        min_value=TARGET_MIN, max_value=TARGET_MAX, help_text=f"Skilled forgeries that may be accepted: {TARGET_HELP}."
    )
    frr = serializers.FloatField(
        min_value=TARGET_MIN, max_value=TARGET_MAX, help_text=f"Genuine signatures that may be rejected: {TARGET_HELP}."
    )


class PolicyUpdateSerializer(PolicyTargetsSerializer):
    reason = serializers.CharField(max_length=2000, help_text="Why the policy changes (kept in the audit trail).")


class PolicyChangeSerializer(serializers.ModelSerializer):
    changed_by = serializers.CharField(source="changed_by.username", read_only=True)
    old_thresholds = ThresholdsField(read_only=True, help_text="The thresholds in force before the change.")
    new_thresholds = ThresholdsField(read_only=True, help_text="The thresholds the new policy gave.")

    class Meta:
        model = PolicyChange
        fields = [
            "id",
            "changed_by",
            "changed_at",
            "reason",
            "old_far_skilled",
            "old_frr",
            "old_thresholds",
            "new_far_skilled",
            "new_frr",
            "new_thresholds",
        ]
        read_only_fields = fields


class PolicyThresholdsSerializer(serializers.Serializer):
    accept = serializers.FloatField(help_text="Genuine at or above this calibrated score.")
    reject = serializers.FloatField(help_text="Forgery below this score; refer in between.")
    accept_far_skilled = serializers.FloatField(help_text="The forgery target accept was set for.")
    reject_frr = serializers.FloatField(help_text="The genuine target reject was set for.")
    references = serializers.IntegerField(help_text="References per writer in the scores (R).")
    by_references = serializers.DictField(
        child=serializers.DictField(child=serializers.FloatField()),
        required=False,
        help_text='accept and reject per number of references ("1", "5"); a signer with R references uses the '
        "largest R at or below theirs. Absent for a model whose scores hold one R (its pair serves every R).",
    )
    cheque = serializers.DictField(
        child=serializers.FloatField(),
        required=False,
        help_text="accept and reject fitted on validation writers' signatures cut from generated whole cheques: a "
        'crop the finder takes from a cheque ("crop": "auto", cheque decisions, clearing) is decided with the '
        "stricter of this pair and its R's own. Absent for a model whose scores hold no cheque scores (a forgery "
        "call on such a crop is then referred unless SIGVERIFY_CHEQUE_FORGERY_DECIDES).",
    )


class QueryCountsSerializer(serializers.Serializer):
    genuine = serializers.IntegerField()
    skilled = serializers.IntegerField()
    random = serializers.IntegerField()


def _share(help_text: str):
    return serializers.FloatField(allow_null=True, help_text=f"{help_text} (fraction; null without such queries).")


class PolicyOutcomeSerializer(serializers.Serializer):
    """What a policy's thresholds do to one set of queries."""

    forgeries_accepted = _share("Skilled forgeries at or above accept")
    random_accepted = _share("Other writers' signatures at or above accept")
    genuine_rejected = _share("Genuine signatures below reject")
    genuine_accepted = _share("Genuine signatures at or above accept")
    referred = _share("Genuine and skilled-forgery queries between reject and accept (sent to a human)")
    referred_genuine = _share("Genuine signatures referred")
    referred_skilled = _share("Skilled forgeries referred")
    queries = QueryCountsSerializer()


class PolicyPreviewSerializer(serializers.Serializer):
    """A policy's thresholds (from validation writers) and its outcome on the test writers."""

    policy = PolicyTargetsSerializer()
    thresholds = PolicyThresholdsSerializer()
    test = PolicyOutcomeSerializer(help_text="All test writers together.")
    test_by_dataset = serializers.DictField(child=PolicyOutcomeSerializer(), help_text="Test writers per dataset.")
    validation = PolicyOutcomeSerializer(help_text="The validation writers the thresholds were set on.")
    by_references = serializers.DictField(
        child=serializers.DictField(),
        required=False,
        help_text='Per number of references ("1", "5"): references, accept, reject and the outcome at that R '
        "(test, test_by_dataset, validation). Empty for a model whose scores hold one R.",
    )
    cheque = serializers.DictField(
        required=False,
        help_text="On signatures cut from generated whole cheques (primary R): accept and reject of the cheque pair "
        "and the outcome there (test writers on held-out layouts, test_by_dataset, validation). Absent without "
        "cheque scores.",
    )


class PolicySweepRowSerializer(serializers.Serializer):
    far_skilled = serializers.FloatField(help_text="The forgery target of this policy.")
    frr = serializers.FloatField()
    accept = serializers.FloatField()
    reject = serializers.FloatField()
    forgeries_accepted = _share("Skilled forgeries accepted on test writers")
    genuine_rejected = _share("Genuine rejected on test writers")
    referred = _share("Referred on test writers")


class ScoresErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ValidationScoresSerializer(serializers.Serializer):
    available = serializers.BooleanField(help_text="False: the version keeps its card's thresholds.")
    error = ScoresErrorSerializer(allow_null=True, help_text="Why the scores cannot be used (no_validation_scores).")
    references = serializers.IntegerField(allow_null=True)
    datasets = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), help_text="Datasets per split (val, test)."
    )


class PolicyStateSerializer(serializers.Serializer):
    """A version's operating policy, the thresholds in force and what the policy does on test writers."""

    model_version = serializers.IntegerField()
    far_skilled = serializers.FloatField(help_text="Skilled forgeries that may be accepted (fraction).")
    frr = serializers.FloatField(help_text="Genuine signatures that may be rejected (fraction).")
    thresholds = ThresholdsField(help_text="The thresholds in force.")
    validation_scores = ValidationScoresSerializer()
    preview = PolicyPreviewSerializer(allow_null=True, help_text="The current policy's outcome (null without scores).")
    sweep = PolicySweepRowSerializer(many=True, help_text="Every policy of the forgery-target range, frr held.")
    changes = PolicyChangeSerializer(many=True, help_text="The latest policy changes, newest first.")
