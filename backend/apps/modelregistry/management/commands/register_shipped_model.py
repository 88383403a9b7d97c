from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.core.exceptions import ServiceError
from apps.modelregistry.models import ModelVersion
from apps.modelregistry.services import (
    model_dir_keep_copy,
    model_version_register,
    model_version_serves_its_own_weights,
    promotion_start,
)
from sigverify.errors import ModelLoadError
from sigverify.weights import CARD_FILE


class Command(BaseCommand):
    help = (
        "Register the shipped model (SIGVERIFY_MODEL_DIR, default trained_model_parameters/) as a "
        "model version, idempotent by sha256, from a copy kept under SIGVERIFY_MODELS_ROOT. It is "
        "activated when no version is active yet; when the active version's weights were replaced in "
        "place (an upgrade of an older installation), it is promoted: references re-embedded, then switched."
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
        active_now = ModelVersion.objects.filter(is_active=True).first()
        activate = options["activate"] or active_now is None
        try:
            version, created = model_version_register(model_dir_keep_copy(directory), activate=activate)
        except (ModelLoadError, OSError) as exc:
            raise CommandError(f"cannot register {directory}: {exc}") from exc
        version.refresh_from_db()
        state = "registered" if created else "already registered"
        active = "active" if version.is_active else "not active"
        self.stdout.write(self.style.SUCCESS(f"Model {version.name} {state} ({active}, sha256 {version.sha256[:12]})."))
        if not version.is_active and active_now is not None and not model_version_serves_its_own_weights(active_now):
            try:
                promotion = promotion_start(version=version, requested_by=None)
            except ServiceError as exc:
                self.stdout.write(self.style.WARNING(f"The active version cannot serve and {exc.message}."))
                return
            self.stdout.write(
                self.style.WARNING(
                    f"The active version {active_now.name} no longer has its weights (replaced by this upgrade): "
                    f"promotion {promotion.pk} re-embeds every reference with {version.name}, then switches to it."
                )
            )
