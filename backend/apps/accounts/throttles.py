import hashlib

from rest_framework.throttling import SimpleRateThrottle


class LoginRateThrottle(SimpleRateThrottle):
    """Limits password attempts per username (scope ``login``).

    Per account rather than per address: the Streamlit interface logs every clerk in from
    the same address, and guessing one account's password is what must be slowed down.
    """

    scope = "login"

    def get_cache_key(self, request, view):
        username = ""
        try:
            username = str(request.data.get("username", ""))
        except Exception:  # unparsable body: fall back to the address
            pass
        username = username.strip().lower()[:150]
        # Hashed: any text can be a username, but cache keys must stay plain ASCII.
        ident = hashlib.sha256(username.encode()).hexdigest() if username else f"addr:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
