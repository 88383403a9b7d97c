from django.contrib import admin, messages

from apps.core.exceptions import ServiceError

from . import services
from .models import ModelVersion, Promotion

PROMOTE = ["modelregistry.change_modelversion", "modelregistry.add_promotion"]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "short_sha256", "eer", "accept", "reject", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "sha256")
    readonly_fields = ("name", "weights_path", "sha256", "card", "metrics", "thresholds", "is_active", "created_at")
    ordering = ("-created_at",)
    actions = ["promote"]

    @admin.action(description="Promote the selected version (re-embed references, then activate)")
    def promote(self, request, queryset):
        """One version at a time: queue its promotion."""
        if not request.user.has_perms(PROMOTE):
            self.message_user(request, "You may not promote model versions.", messages.ERROR)
            return
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one model version to promote.", messages.WARNING)
            return
        version = queryset.get()
        try:
            promotion = services.start_promotion(version=version, requested_by=request.user)
        except ServiceError as exc:
            self.message_user(request, str(exc.detail), messages.ERROR)
            return
        self.message_user(
            request,
            f"Promotion {promotion.pk} of {version.name} queued: {promotion.total} references to embed; "
            "the version becomes active when all are done.",
            messages.SUCCESS,
        )

    @admin.display(description="sha256")
    def short_sha256(self, obj):
        return obj.sha256[:12]

    @admin.display(description="EER")
    def eer(self, obj):
        return obj.thresholds.get("eer")

    @admin.display(description="accept ≥")
    def accept(self, obj):
        return obj.thresholds.get("accept")

    @admin.display(description="reject <")
    def reject(self, obj):
        return obj.thresholds.get("reject")

    def has_add_permission(self, request):
        return False  # versions are registered from model directories, not typed in


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    list_display = ("id", "model_version", "status", "done", "total", "previous_version", "requested_by",
                    "created_at", "finished_at")
    list_filter = ("status",)
    readonly_fields = [f.name for f in Promotion._meta.fields]
    ordering = ("-created_at",)

    def has_add_permission(self, request):
        return False  # use the promote action on model versions
