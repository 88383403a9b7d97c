from django.apps import AppConfig


class VerificationsConfig(AppConfig):
    name = "apps.verifications"
    label = "verifications"
    verbose_name = "Verifications"
