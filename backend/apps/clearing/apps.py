from django.apps import AppConfig


class ClearingConfig(AppConfig):
    name = "apps.clearing"
    label = "clearing"
    verbose_name = "Clearing files"

    def ready(self):
        from apps.core.orphans import register_stored_files

        from .models import ClearingFile

        register_stored_files("clearing-files", ClearingFile, "file")  # the image cash letters, as received

        from . import recovery  # noqa: F401  (registers the stale-run sweep and the worker-start hook)
