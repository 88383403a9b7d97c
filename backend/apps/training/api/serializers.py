from rest_framework import serializers

from apps.core.api.fields import PydanticField, PydanticModelField
from apps.modelregistry.api.serializers import ModelVersionBriefSerializer
from apps.training.models import TrainingJob
from apps.training.services import JobSettings, TrainOptions


class TrainingJobCreateSerializer(serializers.Serializer):
    datasets = serializers.ListField(
        child=serializers.CharField(max_length=100),
        default=list,
        max_length=50,
        help_text="Names of organised datasets in organized_data/ (made with `sigverify import-data`).",
    )
    include_references = serializers.BooleanField(default=True, help_text="Train on the enrolled references too.")
    include_reviewed = serializers.BooleanField(
        default=True, help_text="Train on verifications a human reviewed (final call genuine or forgery)."
    )
    # Declared once, in sigverify.options.TrainConfig: type, default, limits and help.
    epochs = PydanticField(JobSettings, "epochs")
    loss = PydanticField(JobSettings, "loss")
    seed = PydanticField(JobSettings, "seed")
    options = PydanticModelField(TrainOptions, default=dict)


class TrainingJobProgressSerializer(serializers.Serializer):
    epoch = serializers.IntegerField()
    epochs = serializers.IntegerField()
    loss = serializers.FloatField(source="current_loss", allow_null=True)
    val_eer = serializers.FloatField(allow_null=True)
    images_per_s = serializers.FloatField(allow_null=True)
    heartbeat_at = serializers.DateTimeField(allow_null=True)


class TrainingJobSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username", default=None, read_only=True, allow_null=True)
    progress = TrainingJobProgressSerializer(source="*", read_only=True)
    model_version = ModelVersionBriefSerializer(read_only=True, allow_null=True)
    options = PydanticModelField(TrainOptions, read_only=True, help_text="The options set when the job was started.")

    class Meta:
        model = TrainingJob
        fields = [
            "id",
            "status",
            "requested_by",
            "datasets",
            "include_references",
            "include_reviewed",
            "epochs",
            "loss",
            "seed",
            "options",
            "progress",
            "history",
            "cancel_requested",
            "log_tail",
            "data_summary",
            "error",
            "worker",
            "created_at",
            "started_at",
            "finished_at",
            "model_version",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        return super().to_representation(instance.as_seen())  # a job whose worker died shows as ended
