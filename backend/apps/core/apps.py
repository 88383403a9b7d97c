from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self):
        from . import tasks  # noqa: F401  (registers the run sweep and the worker-start hook)
