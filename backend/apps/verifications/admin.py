from django import forms
from django.contrib import admin
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from apps.core.admin_images import image_view, img_tag
from apps.core.exceptions import ServiceError
from apps.core.images import content_type_for_name

from . import services
from .models import BatchItem, Review, Verification, VerificationBatch


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReviewInline(admin.StackedInline):
    model = Review
    extra = 0
    fields = ("final_decision", "comment", "reviewer", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Verification)
class VerificationAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "preview",
        "signer",
        "decision",
        "score",
        "reference_count",
        "model_version",
        "requested_by",
        "cheque_reference",
        "processing_ms",
        "reviewed",
    )
    list_filter = (
        "decision",
        "scoring",
        "model_version",
        "created_at",
        ("review", admin.EmptyFieldListFilter),
        "requested_by",
    )
    search_fields = ("signer__external_id", "signer__full_name", "cheque_reference", "image_sha256")
    date_hierarchy = "created_at"
    list_select_related = ("signer", "model_version", "requested_by", "review")
    inlines = [ReviewInline]
    fields = (
        "large_preview",
        "review_link",
        "signer",
        "decision",
        "score",
        "z_score",
        "thresholds",
        "reference_count",
        "scoring",
        "distances",
        "model_version",
        "cheque_reference",
        "crop",
        "image_sha256",
        "quality",
        "requested_by",
        "created_at",
        "processing_ms",
    )
    readonly_fields = fields

    def _image_url(self, obj):
        return reverse("admin:verifications_verification_image", args=[obj.pk])

    @admin.display(description="image")
    def preview(self, obj):
        return img_tag(self._image_url(obj), height=40)

    @admin.display(description="questioned image")
    def large_preview(self, obj):
        return img_tag(self._image_url(obj), height=120)

    @admin.display(description="review")
    def review_link(self, obj):
        if hasattr(obj, "review"):
            return f"{obj.review.get_final_decision_display()} by {obj.review.reviewer}"
        url = reverse("admin:verifications_review_add") + f"?verification={obj.pk}"
        return format_html('<a href="{}">Record the review</a>', url)

    @admin.display(description="reviewed", boolean=True)
    def reviewed(self, obj):
        return hasattr(obj, "review")

    def get_urls(self):
        extra = [
            path("<int:pk>/image/", self.admin_site.admin_view(self.image), name="verifications_verification_image")
        ]
        return extra + super().get_urls()

    def image(self, request, pk):
        verification = get_object_or_404(Verification, pk=pk)
        return image_view(
            request, verification, "verifications.view_verification", content_type_for_name(verification.image.name)
        )


class ReviewForm(forms.ModelForm):
    """A review recorded in the admin obeys the service's rules (a comment to overrule)."""

    class Meta:
        model = Review
        fields = ("verification", "final_decision", "comment")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "verification" in self.fields:
            self.fields["verification"].queryset = Verification.objects.filter(review__isnull=True)

    def clean(self):
        cleaned = super().clean()
        verification = cleaned.get("verification")
        if verification is None or not cleaned.get("final_decision"):
            return cleaned
        try:
            services.review_check(
                verification=verification, final_decision=cleaned["final_decision"], comment=cleaned.get("comment", "")
            )
        except ServiceError as error:
            for field, messages in (error.fields or {"verification": [error.message]}).items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
        return cleaned


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    """Reviews are added (through ``review_create``), never changed or deleted."""

    form = ReviewForm
    list_display = ("verification", "final_decision", "reviewer", "created_at", "added_as_reference")
    list_filter = ("final_decision",)
    search_fields = ("verification__signer__external_id", "comment")
    raw_id_fields = ("verification",)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="added as reference", boolean=True)
    def added_as_reference(self, obj):
        return bool((obj.reference_growth or {}).get("added"))

    def save_model(self, request, obj, form, change):
        review = services.review_create(
            verification=obj.verification, reviewer=request.user, final_decision=obj.final_decision, comment=obj.comment
        )
        obj.pk, obj.reviewer, obj.created_at = review.pk, review.reviewer, review.created_at
        obj._state.adding = False


class BatchItemInline(admin.TabularInline):
    model = BatchItem
    extra = 0
    fields = (
        "index",
        "signer_key",
        "cheque_reference",
        "status",
        "verification",
        "reference_count",
        "error_code",
        "error_message",
    )
    readonly_fields = fields
    can_delete = False

    @admin.display(description="R")
    def reference_count(self, obj):
        return obj.verification.reference_count if obj.verification_id else "-"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(VerificationBatch)
class VerificationBatchAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "status", "total", "requested_by", "attempts", "finished_at")
    list_filter = ("status", "created_at")
    list_select_related = ("requested_by",)
    fields = (
        "status",
        "total",
        "error",
        "requested_by",
        "attempts",
        "worker",
        "task_id",
        "heartbeat_at",
        "created_at",
        "started_at",
        "finished_at",
    )
    readonly_fields = fields
    inlines = [BatchItemInline]
