"""Accounts with drawn signatories and drawn cheques (``testsupport.synthetic_data``), decided by the tiny model."""

from __future__ import annotations

import pytest

from testsupport.synthetic_data import signature_bytes
from testsupport.uploads import upload

WRITERS = {"DIR-1": 1, "DIR-2": 2, "DIR-3": 3}


@pytest.fixture
def signatories_enrolled(active_version, make_user):
    """Three signers (writers 1-3), four drawn references each, embedded by the tiny model."""
    from apps.signers.services import references_enroll, signer_create

    enroller = make_user("integrator")
    signers = {}
    for external_id, writer in WRITERS.items():
        signer = signer_create(external_id=external_id, full_name=f"Director {writer}")
        files = [upload(signature_bytes(writer, i, size=(204, 110)), f"r{i}.png") for i in range(4)]
        result = references_enroll(signer=signer, files=files, user=enroller)
        assert len(result.accepted) == 4, result.rejected
        signers[external_id] = signer
    return signers


@pytest.fixture
def two_of_three(signatories_enrolled, make_user):
    """Account 12345678: the three directors in group A; any two of them sign."""
    from apps.mandates import services

    account = services.account_create(number="12345678", name="Example Trading Ltd")
    for external_id in WRITERS:
        services.signatory_add(account=account, signer=external_id, group="A")
    services.set_mandate(
        account=account,
        bands=[{"up_to": None, "any_of": [[{"group": "A", "count": 2}]]}],
        reason="board resolution 2026-01",
        user=make_user("integrator"),
    )
    return account


@pytest.fixture
def shipped_version(db, shipped_model_dir):
    """The shipped weights as the active version (references enrolled after this are embedded by it)."""
    from apps.modelregistry.services import model_version_register

    version, _ = model_version_register(shipped_model_dir, activate=True)
    version.refresh_from_db()
    return version
