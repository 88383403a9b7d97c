from django.apps import AppConfig


class VerificationsConfig(AppConfig):
    name = "apps.verifications"
    label = "verifications"
    verbose_name = "Verifications"

    def ready(self):
        from apps.core.orphans import register_stored_files

        from .models import BatchItem, Verification

        register_stored_files("verifications", Verification, "image")  # the questioned images
        register_stored_files("batches", BatchItem, "image")  # batch items' images, as received

        from apps.core.jobs import register_run

        from .models import VerificationBatch
        from .tasks import run_verification_batch

        register_run(VerificationBatch, run_verification_batch, "SIGVERIFY_DEFAULT_QUEUE")
