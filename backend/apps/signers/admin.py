from django.contrib import admin, messages
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from apps.core.admin_images import image_view, img_tag
from apps.core.exceptions import ServiceError

from . import services
from .models import ReferenceSignature, Signer


class ReferenceInline(admin.TabularInline):
    model = ReferenceSignature
    extra = 0
    can_delete = True
    fields = ("thumbnail", "original_name", "status", "flag_reason", "source", "source_verification_id", "created_at")
    readonly_fields = fields
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False  # references are enrolled through the API (checked and embedded there)

    @admin.display(description="image")
    def thumbnail(self, obj):
        if not obj.pk:
            return "-"
        return img_tag(reverse("admin:signers_reference_image", args=[obj.pk]))

    @admin.display(description="flag")
    def flag_reason(self, obj):
        return flag_text(obj)


def flag_text(reference) -> str:
    flag = reference.flag or {}
    return flag.get("message", flag.get("code", "")) if flag else "-"


@admin.register(ReferenceSignature)
class ReferenceSignatureAdmin(admin.ModelAdmin):
    """Every reference, with where it came from; flagged ones (pending review) are accepted or
    rejected here with the actions, through the same service as the API."""

    list_display = (
        "id",
        "thumbnail",
        "signer",
        "status",
        "flag_score",
        "source",
        "source_verification_id",
        "enrolled_by",
        "created_at",
        "reviewed_by",
    )
    list_filter = ("status", "source", "created_at")
    search_fields = ("signer__external_id", "signer__full_name", "original_name", "sha256")
    list_select_related = ("signer", "enrolled_by", "reviewed_by")
    actions = ["accept", "reject"]
    fields = (
        "large_thumbnail",
        "signer",
        "status",
        "flag_reason",
        "source",
        "source_verification_id",
        "original_name",
        "sha256",
        "content_type",
        "quality",
        "enrolled_by",
        "created_at",
        "reviewed_by",
        "reviewed_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # references are enrolled through the API (checked and embedded there)

    def has_change_permission(self, request, obj=None):
        return False  # status changes go through the actions (the service's rules)

    def has_accept_permission(self, request):
        return request.user.has_perm("signers.change_referencesignature")

    has_reject_permission = has_accept_permission

    @admin.display(description="image")
    def thumbnail(self, obj):
        return img_tag(reverse("admin:signers_reference_image", args=[obj.pk]), height=40)

    @admin.display(description="image")
    def large_thumbnail(self, obj):
        return img_tag(reverse("admin:signers_reference_image", args=[obj.pk]), height=120)

    @admin.display(description="flag")
    def flag_reason(self, obj):
        return flag_text(obj)

    @admin.display(description="flag score")
    def flag_score(self, obj):
        score = (obj.flag or {}).get("score")
        return "-" if score is None else f"{score:.3f}"

    def _review(self, request, queryset, review, done: str):
        changed = 0
        for reference in queryset:
            try:
                review(reference, user=request.user)
                changed += 1
            except ServiceError as error:
                self.message_user(request, f"Reference {reference.pk}: {error.message}", messages.WARNING)
        if changed:
            self.message_user(request, f"{changed} reference(s) {done}.", messages.SUCCESS)

    @admin.action(description="Accept the selected flagged references (use them)", permissions=["accept"])
    def accept(self, request, queryset):
        self._review(request, queryset, services.reference_accept, "accepted: verifications use them now")

    @admin.action(description="Reject the selected flagged references (never use them)", permissions=["reject"])
    def reject(self, request, queryset):
        self._review(request, queryset, services.reference_reject, "rejected")


@admin.register(Signer)
class SignerAdmin(admin.ModelAdmin):
    list_display = ("external_id", "full_name", "status", "reference_count", "pending_count", "created_at")
    list_filter = ("status",)
    search_fields = ("external_id", "full_name")
    readonly_fields = ("created_at", "updated_at")
    inlines = [ReferenceInline]
    actions = ["suspend", "reactivate"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _reference_count=Count("references", filter=Q(references__status=ReferenceSignature.Status.ACTIVE)),
                _pending_count=Count(
                    "references", filter=Q(references__status=ReferenceSignature.Status.PENDING_REVIEW)
                ),
            )
        )

    @admin.display(description="references in use", ordering="_reference_count")
    def reference_count(self, obj):
        return obj._reference_count

    @admin.display(description="flagged", ordering="_pending_count")
    def pending_count(self, obj):
        return obj._pending_count

    @admin.action(description="Suspend the selected signers", permissions=["change"])
    def suspend(self, request, queryset):
        for signer in queryset:  # through the service, so updated_at moves as for the API
            services.signer_set_status(signer, Signer.Status.SUSPENDED)

    @admin.action(description="Reactivate the selected signers", permissions=["change"])
    def reactivate(self, request, queryset):
        for signer in queryset:
            services.signer_set_status(signer, Signer.Status.ACTIVE)

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
