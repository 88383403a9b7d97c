"""Fixtures shared by the backend's tests (a pytest plugin: the root conftest.py loads it).

A tiny model, users per role, a signer with references and a verification. The tiny model
(``testsupport.tiny_model.write_tiny_model``: input 32x48, 16-d embedding, random weights) is created once per test
session and registered as the active model version in the test database, so tests run fast and
never need the shipped weights. Signatures are drawn by ``sigverify.synthetic_signatures`` at test time.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from testsupport.synthetic_data import signature_bytes
from testsupport.tiny_model import write_tiny_model

from .uploads import upload


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker, tiny_model_dir):
    from apps.modelregistry.services import model_version_register

    with django_db_blocker.unblock():
        model_version_register(tiny_model_dir, activate=True)


@pytest.fixture
def active_version(db, tiny_model_dir):
    """The tiny model as the active version (re-registered if a flush removed it)."""
    from apps.modelregistry.models import ModelVersion
    from apps.modelregistry.services import model_version_register

    version = ModelVersion.objects.filter(is_active=True).first()
    if version is None:
        version, _ = model_version_register(tiny_model_dir, activate=True)
        version.refresh_from_db()
    return version


# --- users and clients -----------------------------------------------------------------

ROLES = ("clerk", "integrator", "ml_staff", "admin")


@pytest.fixture
def make_user(db):
    from apps.accounts.services import user_create_with_roles

    counter = {"n": 0}

    def _make(*roles, username=None, password="pw-Strong-123", **extra):
        counter["n"] += 1
        name = username or f"{'-'.join(roles) or 'norole'}-{counter['n']}"
        return user_create_with_roles(name, password, roles=roles, **extra)

    return _make


@pytest.fixture
def client_for(make_user):
    """``client_for("clerk")`` -> an APIClient authenticated with a token of a new clerk."""
    from rest_framework.test import APIClient

    from apps.accounts.services import token_issue

    def _client(*roles, user=None):
        user = user or make_user(*roles)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user).key}")
        client.user = user
        return client

    return _client


@pytest.fixture
def anon_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def signer(db):
    from apps.signers.services import signer_create

    return signer_create(external_id="ACC-1001", full_name="Ada Lovelace")


@pytest.fixture
def enrolled_signer(signer, active_version, make_user):
    """A signer with three references drawn by writer 1, embedded by the active version."""
    from apps.signers.services import references_enroll

    files = [upload(signature_bytes(1, i), f"ref{i}.png") for i in range(3)]
    result = references_enroll(signer=signer, files=files, user=make_user("integrator"))
    assert len(result.accepted) == 3, result.rejected
    return signer


@pytest.fixture
def verification(enrolled_signer, make_user):
    from apps.verifications.services import verification_create

    return verification_create(
        signer=enrolled_signer, image=upload(signature_bytes(1, 9)), user=make_user("clerk"), cheque_reference="CHQ-1"
    )


@pytest.fixture(autouse=True)
def _fresh_serving_failures():
    """Load failures are remembered per process; a test that breaks a model must not leak it."""
    yield
    serving = sys.modules.get("apps.modelregistry.serving")  # not loaded: nothing remembered
    if serving is not None:
        serving._failures.clear()


@pytest.fixture(scope="session")
def calibrated_model_dir(tmp_path_factory) -> Path:
    from .calibrated import write_calibrated_tiny_model

    return write_calibrated_tiny_model(tmp_path_factory.mktemp("calibrated-tiny-model"))


@pytest.fixture
def calibrated_version(db, calibrated_model_dir):
    """A tiny model whose scoring tells synthetic writers apart (``testsupport.calibrated``), active."""
    from apps.modelregistry.services import model_version_register

    version, _ = model_version_register(calibrated_model_dir, activate=True)
    version.refresh_from_db()
    return version


@pytest.fixture(scope="session")
def fused_model_dirs(tmp_path_factory) -> list[Path]:
    """Two calibrated tiny models (other weights) whose cards fuse a signer classifier's margin."""
    from .calibrated import write_calibrated_tiny_model

    return [
        write_calibrated_tiny_model(tmp_path_factory.mktemp(f"fused-tiny-model-{seed}"), seed=seed, fused=True)
        for seed in (2, 3)
    ]


@pytest.fixture
def fused_version(db, fused_model_dirs):
    """The first of ``fused_model_dirs``, active."""
    from apps.modelregistry.services import model_version_register

    version, _ = model_version_register(fused_model_dirs[0], activate=True)
    version.refresh_from_db()
    return version
