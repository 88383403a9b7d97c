from django.apps import AppConfig


class SignersConfig(AppConfig):
    name = "apps.signers"
    label = "signers"
    verbose_name = "Signers"

    def ready(self):
        from apps.core.orphans import register_stored_files
        from apps.modelregistry.preparation import VersionPreparation, register_preparation

        from . import classifiers, selectors, services
        from .models import ReferenceSignature

        register_stored_files("references", ReferenceSignature, "image")

        # A version serves only once every reference has its embedding under it (promotion waits).
        register_preparation(
            VersionPreparation(
                name="reference embeddings",
                total=selectors.reference_count,
                done=selectors.embedded_reference_count,
                missing=selectors.unembedded_reference_ids,
                prepare=lambda version, progress: services.references_embed_missing(version, progress=progress),
            )
        )
        # Then, for a version that fuses a signer's own classifier into its score, one per signer
        # (fitted on the embeddings above, so registered after them: preparations run in order).
        # Quick to fit, so the promotion's progress counts the embeddings only.
        register_preparation(
            VersionPreparation(
                name="signer classifiers",
                total=lambda: 0,
                done=lambda version: 0,
                missing=classifiers.classifier_missing,
                prepare=classifiers.prepare_classifiers,
            )
        )
