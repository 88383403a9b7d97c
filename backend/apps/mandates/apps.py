from django.apps import AppConfig


class MandatesConfig(AppConfig):
    name = "apps.mandates"
    label = "mandates"
    verbose_name = "Bank accounts and mandates"

    def ready(self):
        from apps.core.orphans import register_stored_files

        from .models import ChequeDecision

        register_stored_files("cheques", ChequeDecision, "image")
