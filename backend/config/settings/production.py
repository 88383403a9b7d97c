"""Production settings: secrets required, HTTPS assumed."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import env


def _required(*names: str) -> str:
    """The first of ``names`` set in the environment; refuse to start when none is."""
    for name in names:
        value = env(name, default="")
        if value:
            return value
    raise ImproperlyConfigured(
        f"production settings: {' or '.join(names)} must be set (see .env.example); refusing to start without it"
    )


DEBUG = False
# No defaults: refuse to start without a real secret, the hosts and a real database.
SECRET_KEY = _required("DJANGO_SECRET_KEY", "SECRET_KEY")
if SECRET_KEY.startswith(("insecure-", "change-me")) or len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("production settings: DJANGO_SECRET_KEY must be a random string of 32+ characters")
ALLOWED_HOSTS = [h.strip() for h in _required("DJANGO_ALLOWED_HOSTS").split(",") if h.strip()]
_required("DATABASE_URL")  # base.py parsed it; without it production would silently use SQLite
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
