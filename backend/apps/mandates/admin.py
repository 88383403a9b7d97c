from django.contrib import admin
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from apps.core.admin_images import image_view, img_tag
from apps.core.images import content_type_for_name

from . import rules, services
from .models import AmountRule, BankAccount, ChequeDecision, ChequeReview, Mandate, Signatory
from .selectors import current_mandate


class SignatoryInline(admin.TabularInline):
    model = Signatory
    extra = 0
    fields = ("signer", "group", "limit", "valid_from", "valid_until")
    autocomplete_fields = ("signer",)


class MandateInline(admin.TabularInline):
    """The audit trail: read only (a mandate is set through the API or the Streamlit page, checked there)."""

    model = Mandate
    extra = 0
    can_delete = False
    fields = ("changed_at", "changed_by", "reason", "words")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="rule")
    def words(self, obj):
        return "; ".join(rules.describe_mandate(rules.bands_from_dicts(obj.bands)))


@admin.register(BankAccount)
class BankAccountAdmin(admin.ModelAdmin):
    list_display = ("number", "name", "status", "always_refer", "mandate_in_words")
    list_filter = ("status", "always_refer")
    search_fields = ("number", "name", "signatories__signer__external_id")
    readonly_fields = ("created_at", "updated_at")
    inlines = [SignatoryInline, MandateInline]

    @admin.display(description="mandate")
    def mandate_in_words(self, obj):
        mandate = current_mandate(obj)
        return "; ".join(rules.describe_mandate(rules.bands_from_dicts(mandate.bands))) if mandate else "-"


@admin.register(AmountRule)
class AmountRuleAdmin(admin.ModelAdmin):
    list_display = ("above", "far_skilled", "refer_all", "note")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services._stricter_cache.clear()


class ChequeReviewInline(admin.TabularInline):
    model = ChequeReview
    extra = 0
    can_delete = False
    fields = ("outcome", "comment", "reviewer", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ChequeDecision)
class ChequeDecisionAdmin(admin.ModelAdmin):
    list_display = ("id", "account", "amount", "decision", "satisfied", "cheque_reference", "created_at")
    list_filter = ("decision", "satisfied", "created_at")
    search_fields = ("account__number", "cheque_reference", "image_sha256")
    readonly_fields = [f.name for f in ChequeDecision._meta.fields] + ["cheque"]
    exclude = ("image",)
    inlines = [ChequeReviewInline]

    def has_add_permission(self, request):
        return False  # decided through the API

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="cheque")
    def cheque(self, obj):
        return img_tag(reverse("admin:mandates_cheque_image", args=[obj.pk])) if obj.pk else "-"

    def get_urls(self):
        extra = [
            path("<int:pk>/image/", self.admin_site.admin_view(self.cheque_image), name="mandates_cheque_image"),
        ]
        return extra + super().get_urls()

    def cheque_image(self, request, pk):
        cheque = get_object_or_404(ChequeDecision, pk=pk)
        return image_view(request, cheque, "mandates.view_chequedecision", content_type_for_name(cheque.image.name))
