from django.apps import AppConfig


class ClearingConfig(AppConfig):
    name = "apps.clearing"
    label = "clearing"
    verbose_name = "Clearing files"

    def ready(self):
        from apps.core.orphans import register_stored_files

        from .models import ClearingFile

        register_stored_files("clearing-files", ClearingFile, "file")  # the image cash letters, as received

        from apps.core.jobs import register_run

        from .tasks import run_clearing_file

        register_run(ClearingFile, run_clearing_file, "SIGVERIFY_DEFAULT_QUEUE")
