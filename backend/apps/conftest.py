"""Fixtures shared by the backend apps' tests: a tiny model, users per role, drawn signatures.

The tiny model (input 32x48, 16-d embedding, random weights) is created once per test
session and registered as the active model version in the test database, so tests run
fast and never need the shipped weights. Images are drawn with Pillow at test time.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from sigverify.synthetic import write_tiny_model


def make_model_dir(directory: Path, name: str = "tiny-test", seed: int = 0) -> Path:
    return write_tiny_model(directory, name=name, seed=seed)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return make_model_dir(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker, tiny_model_dir):
    from apps.modelregistry.services import register_model_dir

    with django_db_blocker.unblock():
        register_model_dir(tiny_model_dir, activate=True)


@pytest.fixture
def active_version(db, tiny_model_dir):
    """The tiny model as the active version (re-registered if a flush removed it)."""
    from apps.modelregistry.models import ModelVersion
    from apps.modelregistry.services import register_model_dir

    version = ModelVersion.objects.filter(is_active=True).first()
    if version is None:
        version, _ = register_model_dir(tiny_model_dir, activate=True)
        version.refresh_from_db()
    return version


# --- images --------------------------------------------------------------------------


def draw_signature(writer: int = 1, sample: int = 0, size=(300, 150), fmt: str = "PNG") -> bytes:
    """A pen-like scribble: the writer fixes the stroke shape, the sample adds jitter."""
    shape = random.Random(writer)
    jitter = random.Random(writer * 1000 + sample)
    width, height = size
    image = Image.new("L", size, 255)
    pen = ImageDraw.Draw(image)
    for _ in range(3):
        points = []
        for _ in range(8):
            x = shape.uniform(0.1, 0.9) * width + jitter.uniform(-4, 4)
            y = shape.uniform(0.2, 0.8) * height + jitter.uniform(-4, 4)
            points.append((x, y))
        pen.line(points, fill=20, width=3, joint="curve")
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format=fmt)
    return buffer.getvalue()


def upload(data: bytes, name: str = "signature.png", content_type: str = "image/png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


def blank_png(size=(300, 150)) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size, 255).save(buffer, format="PNG")
    return buffer.getvalue()


def bomb_png(width: int = 50_000, height: int = 50_000) -> bytes:
    """A tiny PNG whose header claims width x height pixels (the data is never valid)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


BAD_UPLOADS = {
    # name: (bytes, filename, expected error code)
    "zero_bytes": (b"", "empty.png", "empty_file"),
    "text_named_png": (b"this is not an image, just text\n" * 4, "note.png", "not_an_image"),
    "truncated_png": (None, "cut.png", "truncated_image"),  # filled lazily below
    "decompression_bomb": (None, "bomb.png", "too_many_pixels"),
    "blank_page": (None, "blank.png", "no_ink"),
}


def bad_upload(kind: str) -> tuple[bytes, str, str]:
    data, name, code = BAD_UPLOADS[kind]
    if kind == "truncated_png":
        full = draw_signature(7, 0)
        data = full[: len(full) // 2]
    elif kind == "decompression_bomb":
        data = bomb_png()
    elif kind == "blank_page":
        data = blank_png()
    return data, name, code


def media_files(root) -> set[str]:
    root = Path(root)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


# --- users and clients -----------------------------------------------------------------

ROLES = ("clerk", "integrator", "ml_staff", "admin")


@pytest.fixture
def make_user(db):
    from apps.accounts.services import create_user_with_roles

    counter = {"n": 0}

    def _make(*roles, username=None, password="pw-Strong-123", **extra):
        counter["n"] += 1
        name = username or f"{'-'.join(roles) or 'norole'}-{counter['n']}"
        return create_user_with_roles(name, password, roles=roles, **extra)

    return _make


@pytest.fixture
def client_for(make_user):
    """``client_for("clerk")`` -> an APIClient authenticated with a token of a new clerk."""
    from rest_framework.test import APIClient

    from apps.accounts.services import issue_token

    def _client(*roles, user=None):
        user = user or make_user(*roles)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(user).key}")
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
    from apps.signers.services import enroll_references

    files = [upload(draw_signature(1, i), f"ref{i}.png") for i in range(3)]
    result = enroll_references(signer=signer, files=files, user=make_user("integrator"))
    assert len(result.accepted) == 3, result.rejected
    return signer


@pytest.fixture
def verification(enrolled_signer, make_user):
    from apps.verifications.services import verify_signature

    return verify_signature(
        signer=enrolled_signer, image=upload(draw_signature(1, 9)), user=make_user("clerk"), cheque_reference="CHQ-1"
    )


@pytest.fixture(autouse=True)
def _fresh_serving_failures():
    """Load failures are remembered per process; a test that breaks a model must not leak it."""
    yield
    from apps.modelregistry import serving

    serving._failures.clear()


def database_url_for_subprocesses(on_unavailable) -> str:
    """A DATABASE_URL that a server or worker process started by a test can open: the
    test database itself. ``on_unavailable(reason)`` skips or fails when there is none."""
    from urllib.parse import quote

    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = quote(s["USER"] or "", safe="")
        if s.get("PASSWORD"):
            auth += ":" + quote(s["PASSWORD"], safe="")
        return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    if connection.vendor == "sqlite" and not connection.is_in_memory_db():
        return f"sqlite:///{s['NAME']}"
    return on_unavailable("the test database is in-memory SQLite, which another process cannot open; set DATABASE_URL")
