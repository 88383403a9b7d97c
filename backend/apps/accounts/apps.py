from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self):
        from .services import sync_roles_after_migrate

        # Apps migrated after this one (e.g. training) get their permissions into the roles on migrate.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="accounts.sync_roles")
