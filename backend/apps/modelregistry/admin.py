from django.contrib import admin

from .models import ModelVersion


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
        from apps.training.admin import promote_model_version  # the training app owns promotion

        promote_model_version(self, request, queryset)

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
