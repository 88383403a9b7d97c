"""Celery tasks of signers: thin wrappers that take primary keys (services -> tasks -> classifiers).

``refit_signer_classifier``: a signer's own classifier refitted on its current active references under
the active version (``classifiers.refit_queued``), queued on the default queue by the services when
those references change (enrollment, a removal, an accepted flag, a confirmed cheque), so the request
does not wait for the fit. Until it has run, verifications are scored without it and say so
(``Verification.scoring``). Fitting is deterministic: a message run twice does no harm."""

from celery import shared_task

from . import classifiers


@shared_task(name="apps.signers.tasks.refit_signer_classifier", acks_late=True)
def refit_signer_classifier(signer_id: int) -> str:
    return classifiers.refit_queued(signer_id)
