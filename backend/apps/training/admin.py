from django.contrib import admin, messages

from apps.core.exceptions import ServiceError

from . import services
from .models import TrainingJob


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "status",
        "requested_by",
        "epoch",
        "epochs",
        "val_eer",
        "heartbeat_at",
        "created_at",
        "model_version",
    )
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
                services.training_job_cancel(job)
            except ServiceError as exc:
                self.message_user(request, f"job {job.pk}: {exc.message}", messages.WARNING)
