"""The orphan-file sweep: removes only old files that no row points at."""

from __future__ import annotations

import os
import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from testsupport.synthetic_data import signature_bytes

pytestmark = pytest.mark.django_db


def _stored(name: str, age_s: float = 0.0) -> str:
    saved = default_storage.save(name, ContentFile(signature_bytes(9, 9)))
    if age_s:
        stamp = time.time() - age_s
        os.utime(default_storage.path(saved), (stamp, stamp))
    return saved


def test_sweep_removes_old_orphans_and_keeps_referenced_and_recent_files(verification, enrolled_signer, capsys):
    reference_file = enrolled_signer.references.first().image.name
    verification_file = verification.image.name
    for name in (reference_file, verification_file):  # old files that rows point at stay
        os.utime(default_storage.path(name), (time.time() - 7200,) * 2)
    old_orphans = [
        _stored(f"{os.path.dirname(verification_file)}/dead.png", age_s=7200),
        _stored(f"references/{enrolled_signer.pk}/dead.png", age_s=7200),
    ]
    young_orphan = _stored(f"{os.path.dirname(verification_file)}/in-flight.png")

    call_command("sweep_orphan_files", "--dry-run")
    out = capsys.readouterr().out
    assert all(f"orphan: {name}" in out for name in old_orphans)
    assert all(default_storage.exists(name) for name in old_orphans)  # dry run deletes nothing

    call_command("sweep_orphan_files", "--older-than-minutes", "60")
    out = capsys.readouterr().out
    assert "2 orphan(s), 2 removed" in out
    assert not any(default_storage.exists(name) for name in old_orphans)
    for kept in (reference_file, verification_file, young_orphan):
        assert default_storage.exists(kept)

    call_command("sweep_orphan_files", "--older-than-minutes", "0")  # no grace: the young one goes too
    assert not default_storage.exists(young_orphan)
    assert default_storage.exists(reference_file) and default_storage.exists(verification_file)
