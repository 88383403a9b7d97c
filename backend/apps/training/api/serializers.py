from rest_framework import serializers

from apps.modelregistry.api.serializers import ModelVersionBriefSerializer
from apps.training.models import TrainingJob


class TrainingJobCreateSerializer(serializers.Serializer):
    datasets = serializers.ListField(
        child=serializers.CharField(max_length=100), default=list, max_length=50,
        help_text="Names of organised datasets in organized_data/ (made with `sigverify import-data`).",
    )
    include_references = serializers.BooleanField(default=True, help_text="Train on the enrolled references too.")
    include_reviewed = serializers.BooleanField(
        default=True, help_text="Train on verifications a human reviewed (final call genuine or forgery)."
    )
    epochs = serializers.IntegerField(min_value=1, max_value=1000, default=30)
    loss = serializers.CharField(
        max_length=40, default="triplet-semihard", help_text="contrastive, triplet-semihard or triplet-hard."
    )
    seed = serializers.IntegerField(default=0)
    options = serializers.DictField(
        default=dict,
        help_text="Other `sigverify train` options, e.g. {\"lr\": 0.001, \"input_size\": [128, 192], "
        "\"patience\": 6}. Data paths, device and threads are set by the worker.",
    )


class TrainingJobProgressSerializer(serializers.Serializer):
    epoch = serializers.IntegerField()
    epochs = serializers.IntegerField()
    loss = serializers.FloatField(source="current_loss", allow_null=True)
    val_eer = serializers.FloatField(allow_null=True)
    images_per_s = serializers.FloatField(allow_null=True)
    heartbeat_at = serializers.DateTimeField(allow_null=True)


class TrainingJobSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username", default=None, read_only=True)
    progress = TrainingJobProgressSerializer(source="*", read_only=True)
    model_version = ModelVersionBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = TrainingJob
        fields = [
            "id", "status", "requested_by", "datasets", "include_references", "include_reviewed", "epochs",
            "loss", "seed", "options", "progress", "history", "cancel_requested", "log_tail", "data_summary",
            "error", "worker", "created_at", "started_at", "finished_at", "model_version",
        ]
        read_only_fields = fields

