from django.contrib import admin, messages

from apps.core.exceptions import ServiceError

from . import services
from .models import Promotion, TrainingJob


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    list_display = ("id", "status", "requested_by", "epoch", "epochs", "val_eer", "heartbeat_at", "created_at",
                    "model_version")
    list_filter = ("status",)
    readonly_fields = [f.name for f in TrainingJob._meta.fields]
    actions = ["cancel_jobs"]
    ordering = ("-created_at",)

    def has_add_permission(self, request):
        return False  # started through the API, which checks the parameters and queues the task

    @admin.action(description="Cancel selected training jobs", permissions=["change"])
    def cancel_jobs(self, request, queryset):
        for job in queryset:
            try:
                services.cancel_training_job(job)
            except ServiceError as exc:
                self.message_user(request, f"job {job.pk}: {exc.detail}", messages.WARNING)


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    list_display = ("id", "model_version", "status", "done", "total", "previous_version", "requested_by",
                    "created_at", "finished_at")
    list_filter = ("status",)
    readonly_fields = [f.name for f in Promotion._meta.fields]
    ordering = ("-created_at",)

    def has_add_permission(self, request):
        return False  # use the promote action on model versions


def promote_model_version(modeladmin, request, queryset):
    """The model version admin's promote action (one version at a time)."""
    if not request.user.has_perms(["modelregistry.change_modelversion", "training.add_promotion"]):
        modeladmin.message_user(request, "You may not promote model versions.", messages.ERROR)
        return
    if queryset.count() != 1:
        modeladmin.message_user(request, "Select exactly one model version to promote.", messages.WARNING)
        return
    version = queryset.get()
    try:
        promotion = services.start_promotion(version=version, requested_by=request.user)
    except ServiceError as exc:
        modeladmin.message_user(request, str(exc.detail), messages.ERROR)
        return
    modeladmin.message_user(
        request,
        f"Promotion {promotion.pk} of {version.name} queued: {promotion.total} references to embed; "
        "the version becomes active when all are done.",
        messages.SUCCESS,
    )
