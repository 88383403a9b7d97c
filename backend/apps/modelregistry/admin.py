from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from apps.core.exceptions import ServiceError

from . import services
from .models import ModelVersion, PolicyChange, Promotion
from .services import policy_set, policy_validate_change

PROMOTE = ["modelregistry.change_modelversion", "modelregistry.add_promotion"]
CHANGE_POLICY = "modelregistry.change_operating_policy"
POLICY_FIELDS = ("old_far_skilled", "old_frr", "old_thresholds", "new_far_skilled", "new_frr", "new_thresholds")


class PolicyChangeInline(admin.TabularInline):
    """The version's policy changes, read-only (the audit trail)."""

    model = PolicyChange
    fields = ("changed_at", "changed_by", "reason", *POLICY_FIELDS)
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "short_sha256", "eer", "accept", "reject", "policy", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "sha256")
    readonly_fields = (
        "name",
        "weights_path",
        "sha256",
        "card",
        "metrics",
        "thresholds",
        "policy_far_skilled",
        "policy_frr",
        "change_policy",
        "is_active",
        "created_at",
    )
    ordering = ("-created_at",)
    actions = ["promote"]
    inlines = [PolicyChangeInline]

    @admin.display(description="policy (forgeries accepted / genuine rejected)")
    def policy(self, obj):
        return f"{obj.policy_far_skilled:.2%} / {obj.policy_frr:.2%}"

    @admin.display(description="change the policy")
    def change_policy(self, obj):
        url = reverse("admin:modelregistry_policychange_add") + f"?model_version={obj.pk}"
        return format_html('<a href="{}">Change the operating policy…</a>', url)

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
            promotion = services.promotion_start(version=version, requested_by=request.user)
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
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
        return obj.operating_thresholds.eer

    @admin.display(description="accept ≥")
    def accept(self, obj):
        return obj.operating_thresholds.accept

    @admin.display(description="reject <")
    def reject(self, obj):
        return obj.operating_thresholds.reject

    def has_add_permission(self, request):
        return False  # versions are registered from model directories, not typed in


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "model_version",
        "status",
        "done",
        "total",
        "previous_version",
        "requested_by",
        "created_at",
        "finished_at",
    )
    list_filter = ("status",)
    readonly_fields = [f.name for f in Promotion._meta.fields]
    ordering = ("-created_at",)

    def has_add_permission(self, request):
        return False  # use the promote action on model versions


class PolicyChangeForm(forms.ModelForm):
    """A new policy for a version: the service checks the targets, the reason and the stored scores."""

    class Meta:
        model = PolicyChange
        fields = ("model_version", "new_far_skilled", "new_frr", "reason")
        labels = {"new_far_skilled": "Forgeries that may be accepted", "new_frr": "Genuine that may be rejected"}
        help_texts = {
            "new_far_skilled": "A fraction from 0.001 to 0.05 (0.1% to 5%); the accept threshold follows.",
            "new_frr": "A fraction from 0.001 to 0.05 (0.1% to 5%); the reject threshold follows.",
            "reason": "Required: kept in the audit trail.",
        }

    def clean(self):
        data = super().clean()
        version = data.get("model_version")
        if version is None:
            return data
        try:
            policy_validate_change(
                version, far_skilled=data.get("new_far_skilled"), frr=data.get("new_frr"), reason=data.get("reason")
            )
        except ServiceError as exc:
            if not exc.fields:
                if not self.errors:
                    raise forms.ValidationError(exc.message, code=exc.code) from exc
                return data
            names = {"far_skilled": "new_far_skilled", "frr": "new_frr"}
            for field, messages in exc.fields.items():
                if names.get(field, field) not in self.errors:  # the form's own message is already there
                    self.add_error(names.get(field, field), messages)
        return data


@admin.register(PolicyChange)
class PolicyChangeAdmin(admin.ModelAdmin):
    """The audit trail of operating policies; adding a row here changes the version's policy."""

    form = PolicyChangeForm
    list_display = ("changed_at", "model_version", "changed_by", "targets", "thresholds", "reason")
    list_filter = ("model_version",)
    search_fields = ("reason", "changed_by__username", "model_version__name")
    ordering = ("-changed_at",)

    @admin.display(description="forgeries accepted / genuine rejected")
    def targets(self, obj):
        return f"{obj.old_far_skilled:.2%} / {obj.old_frr:.2%} → {obj.new_far_skilled:.2%} / {obj.new_frr:.2%}"

    @admin.display(description="accept / reject")
    def thresholds(self, obj):
        old, new = obj.old_thresholds or {}, obj.new_thresholds or {}
        return f"{old.get('accept', 0):.4f} / {old.get('reject', 0):.4f} → {new.get('accept', 0):.4f} / {new.get('reject', 0):.4f}"

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("model_version", "changed_by", "changed_at", "reason", *POLICY_FIELDS)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("model_version", "new_far_skilled", "new_frr", "reason")
        return self.get_readonly_fields(request, obj)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        version = ModelVersion.objects.filter(pk=initial.get("model_version") or None).first()
        if version is not None:
            initial.setdefault("new_far_skilled", version.policy_far_skilled)
            initial.setdefault("new_frr", version.policy_frr)
        return initial

    def save_model(self, request, obj, form, change):
        created = policy_set(
            obj.model_version, far_skilled=obj.new_far_skilled, frr=obj.new_frr, reason=obj.reason, user=request.user
        )
        for field in PolicyChange._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))

    def has_add_permission(self, request):
        return request.user.has_perm(CHANGE_POLICY)

    def has_change_permission(self, request, obj=None):
        return False  # an audit row is never edited

    def has_delete_permission(self, request, obj=None):
        return False
