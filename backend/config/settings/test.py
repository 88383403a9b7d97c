"""Settings for pytest: fast hashing, media in a throwaway folder, no throttling surprises."""

import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F401,F403
from .base import MIDDLEWARE, REST_FRAMEWORK, env

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production-0123456789abcdefghij"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Never the real media folder. Exported so worker processes started by tests share it.
os.environ.setdefault("SIGVERIFY_TEST_MEDIA_ROOT", tempfile.mkdtemp(prefix="sigverify-test-media-"))
MEDIA_ROOT = Path(os.environ["SIGVERIFY_TEST_MEDIA_ROOT"])
SIGVERIFY_TORCH_THREADS = env.int("SIGVERIFY_TORCH_THREADS", default=1)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"login": "1000/min", "verify": "1000/min"},
}

# Tests never serve static files; skip whitenoise (it warns about an uncollected STATIC_ROOT).
MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("whitenoise.")]
