from django.apps import AppConfig


class ModelRegistryConfig(AppConfig):
    name = "apps.modelregistry"
    label = "modelregistry"
    verbose_name = "Model registry"
