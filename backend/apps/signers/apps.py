from django.apps import AppConfig


class SignersConfig(AppConfig):
    name = "apps.signers"
    label = "signers"
    verbose_name = "Signers"
