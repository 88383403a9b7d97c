from django.contrib import admin

from .models import ClearingFile, ClearingItem


class ClearingItemInline(admin.TabularInline):
    model = ClearingItem
    fields = ("index", "key", "account_number", "amount_cents", "status", "decision", "failure_reason")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    max_num = 0


@admin.register(ClearingFile)
class ClearingFileAdmin(admin.ModelAdmin):
    list_display = ("id", "file_name", "status", "items_total", "items_read", "totals_reconciled", "created_at")
    list_filter = ("status", "totals_reconciled")
    search_fields = ("file_name", "sha256")
    readonly_fields = [f.name for f in ClearingFile._meta.fields]

    def has_add_permission(self, request):
        return False  # files arrive through the API, validated


@admin.register(ClearingItem)
class ClearingItemAdmin(admin.ModelAdmin):
    list_display = ("clearing_file", "index", "key", "account_number", "amount_cents", "status", "decision")
    list_filter = ("status", "decision")
    search_fields = ("key", "account_number")
    readonly_fields = [f.name for f in ClearingItem._meta.fields]

    def has_add_permission(self, request):
        return False
