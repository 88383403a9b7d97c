from django.apps import AppConfig


class ModelRegistryConfig(AppConfig):
    name = "apps.modelregistry"
    label = "modelregistry"
    verbose_name = "Model registry"

    def ready(self):
        from apps.core.health import HealthCheck, register_health_check
        from apps.core.jobs import register_run

        from .models import Promotion
        from .tasks import run_promotion

        register_run(Promotion, run_promotion, "SIGVERIFY_DEFAULT_QUEUE")  # CPU work next to the web servers

        from .api.serializers import ModelStateSerializer
        from .selectors import model_state

        register_health_check(
            HealthCheck(
                name="model", check=model_state, serializer=ModelStateSerializer, database_down={"state": "unknown"}
            )
        )
