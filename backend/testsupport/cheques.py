"""Drawn cheques carrying several signatures, accounts whose signatories sign them, and a demo
account for the browser tests."""

from __future__ import annotations

import numpy as np
from PIL import Image

from sigverify.synthetic_signatures import draw_signature
from testsupport.synthetic_data import draw_cheque, png_bytes, signature_bytes

from .uploads import upload


def cheque_bytes(signatures: list[tuple[int, bool]], size=(1200, 550), **style) -> bytes:
    """A drawn cheque carrying ``signatures`` ((writer, forged) each) side by side above the signature line."""
    width, height = size
    blank, _ = draw_cheque(1, size=size, signature=Image.new("L", (8, 8), 255))
    page = np.asarray(blank).copy()
    each = int(0.17 * width)
    for index, (writer, forged) in enumerate(signatures):
        drawn = draw_signature(writer, 20 + index, forged=forged, size=(each, int(0.2 * height)), **style)
        drawn = np.asarray(drawn.convert("L"))
        x, y = int(0.52 * width) + index * (each + int(0.05 * width)), int(0.54 * height)
        window = page[y : y + drawn.shape[0], x : x + drawn.shape[1]]
        page[y : y + drawn.shape[0], x : x + drawn.shape[1]] = np.minimum(window, drawn)
    return png_bytes(Image.fromarray(page))


TWO_OF_GROUP_A = [{"up_to": None, "any_of": [[{"group": "A", "count": 2}]]}]


def account_with_signatories(
    operator, number: str, name: str, writers, *, references: int = 3, prefix: str = "DIR", title: str = "Director",
    reason: str = "board resolution", **style,
):  # fmt: skip
    """Account ``number`` whose signatories, in group A under a two-of-group-A mandate, are signers
    ``<prefix>-<writer>`` with ``references`` drawn references each (``style`` goes to ``draw_signature``)."""
    from apps.mandates import services
    from apps.signers.services import references_enroll, signer_create

    account = services.account_create(number=number, name=name)
    for writer in writers:
        signer = signer_create(external_id=f"{prefix}-{writer}", full_name=f"{title} {writer}")
        files = [upload(signature_bytes(writer, i, **style), f"r{i}.png") for i in range(references)]
        references_enroll(signer=signer, files=files, user=operator)
        services.signatory_add(account=account, signer=signer.external_id, group="A")
    services.set_mandate(account=account, bands=TWO_OF_GROUP_A, reason=reason, user=operator)
    return account


def set_up_demo_account(writers=(1, 2, 3), number="12345678", references=3, **style) -> None:
    """Signers DIR-<writer> with drawn references, account ``number`` with them in group A, a
    two-of-three mandate, and one cheque decided with a single signature (never paid: referred, or
    returned where the model calls the signature no one's). ``style`` goes to ``draw_signature``."""
    from apps.accounts.services import user_create_with_roles
    from apps.mandates import services

    operator = user_create_with_roles("demo-setup", "pw-Demo-setup-1", roles=["integrator"])
    account_with_signatories(operator, number, "Example Trading Ltd", writers, references=references, **style)
    services.cheque_decide(
        account_number=number,
        amount="250.00",
        image=cheque_bytes([(writers[0], False)], **style),
        cheque_reference="CHQ-1",
    )
