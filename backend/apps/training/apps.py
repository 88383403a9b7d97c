from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "apps.training"
    label = "training"
    verbose_name = "Training and promotion"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from apps.core.jobs import register_run

        from .models import TrainingJob
        from .tasks import run_training_job

        register_run(TrainingJob, run_training_job, "SIGVERIFY_GPU_QUEUE")
