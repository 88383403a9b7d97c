from django.contrib import admin
from django.db.models import Count
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from apps.core.admin_images import image_view, img_tag

from .models import ReferenceSignature, Signer


class ReferenceInline(admin.TabularInline):
    model = ReferenceSignature
    extra = 0
    can_delete = True
    fields = ("thumbnail", "original_name", "sha256", "enrolled_by", "created_at")
    readonly_fields = fields
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False  # references are enrolled through the API (checked and embedded there)

    @admin.display(description="image")
    def thumbnail(self, obj):
        if not obj.pk:
            return "-"
        return img_tag(reverse("admin:signers_reference_image", args=[obj.pk]))


@admin.register(Signer)
class SignerAdmin(admin.ModelAdmin):
    list_display = ("external_id", "full_name", "status", "reference_count", "created_at")
    list_filter = ("status",)
    search_fields = ("external_id", "full_name")
    readonly_fields = ("created_at", "updated_at")
    inlines = [ReferenceInline]
    actions = ["suspend", "reactivate"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_reference_count=Count("references"))

    @admin.display(description="references", ordering="_reference_count")
    def reference_count(self, obj):
        return obj._reference_count

    @admin.action(description="Suspend the selected signers", permissions=["change"])
    def suspend(self, request, queryset):
        queryset.update(status=Signer.Status.SUSPENDED)

    @admin.action(description="Reactivate the selected signers", permissions=["change"])
    def reactivate(self, request, queryset):
        queryset.update(status=Signer.Status.ACTIVE)

    def get_urls(self):
        extra = [
            path(
                "references/<int:pk>/image/",
                self.admin_site.admin_view(self.reference_image),
                name="signers_reference_image",
            )
        ]
        return extra + super().get_urls()

    def reference_image(self, request, pk):
        reference = get_object_or_404(ReferenceSignature, pk=pk)
        return image_view(request, reference, "signers.view_referencesignature", reference.content_type)
