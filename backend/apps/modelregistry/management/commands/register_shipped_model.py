from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.modelregistry.models import ModelVersion
from apps.modelregistry.services import register_model_dir
from sigverify.errors import ModelLoadError
from sigverify.weights import CARD_FILE


class Command(BaseCommand):
    help = (
        "Register the shipped model (SIGVERIFY_MODEL_DIR, default trained_model_parameters/) as a "
        "model version, idempotent by sha256. It is activated when no version is active yet."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dir", default=None, help="model directory (default: SIGVERIFY_MODEL_DIR)")
        parser.add_argument("--activate", action="store_true", help="activate it even if another version is active")

    def handle(self, *args, **options):
        directory = Path(options["dir"] or settings.SIGVERIFY_MODEL_DIR)
        if not (directory / CARD_FILE).is_file():
            self.stdout.write(
                self.style.WARNING(
                    f"No shipped model in {directory} (no {CARD_FILE}); nothing registered. "
                    "Verification answers 503 until a model version is active."
                )
            )
            return
        activate = options["activate"] or not ModelVersion.objects.filter(is_active=True).exists()
        try:
            version, created = register_model_dir(directory, activate=activate)
        except ModelLoadError as exc:
            raise CommandError(f"cannot register {directory}: {exc}") from exc
        version.refresh_from_db()
        state = "registered" if created else "already registered"
        active = "active" if version.is_active else "not active"
        self.stdout.write(self.style.SUCCESS(f"Model {version.name} {state} ({active}, sha256 {version.sha256[:12]})."))
