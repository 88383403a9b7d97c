"""The calls a clearing item makes into the mandates app: decide a cheque against its account, and
its image work, done ahead.

Kept apart so that the run (``runs``) reads as the clearing logic alone, and a unit test can
swap the decision for its own.
"""

from __future__ import annotations

from datetime import date

from apps.mandates.services import ChequeImage, cheque_decide, cheque_image_prepare


def prepare_image(image: bytes, input_size) -> ChequeImage:
    """A cheque front's image work (decode, signature search, preprocessing), with no database read:
    what a run hands a thread pool ahead of ``decide_cheque``. Never raises (the error is kept)."""
    return cheque_image_prepare(image, input_size)


def decide_cheque(
    *,
    account_number: str,
    image: bytes,
    amount_cents: int,
    cheque_date: date | None,
    cheque_reference: str,
    requested_by,
    version=None,
    prepared=None,
):
    """The ``ChequeDecision`` for one check (raises the mandates app's ``ServiceError``s).
    ``cheque_date``: the item's business date (signatories are judged valid on it); None: today.
    ``version``: the active model version, read once per chunk by the run. ``prepared``: the image's
    work done ahead (``cheque_image_prepare``), or None."""
    return cheque_decide(
        account_number=account_number,
        image=image,
        amount_cents=amount_cents,
        cheque_date=cheque_date,
        cheque_reference=cheque_reference,
        requested_by=requested_by,
        version=version,
        prepared=prepared,
    )
