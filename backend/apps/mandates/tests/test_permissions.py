"""Every role (and anonymous) against every accounts/ and cheques/ route: integrators and admins
write accounts, signatories and mandates; clerks read them; clerks, integrators and admins decide
cheques; clerks and admins review them; ML staff and users without a role get 403."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.accounts.services import token_issue
from testsupport.cheques import cheque_bytes
from testsupport.uploads import upload

pytestmark = pytest.mark.django_db

CALLERS = ("anonymous", "no_role", "clerk", "integrator", "ml_staff", "admin", "superuser")
READERS = {"clerk", "integrator", "admin", "superuser"}
WRITERS = {"integrator", "admin", "superuser"}
DECIDERS = {"clerk", "integrator", "admin", "superuser"}
REVIEWERS = {"clerk", "admin", "superuser"}
MANDATE = {"bands": [{"up_to": None, "any_of": [[{"group": "A", "count": 1}]]}], "reason": "matrix"}

# (name, method, url, body, callers allowed, multipart)
ROUTES = [
    ("account-list", "get", "/api/v1/accounts/", None, READERS, False),
    ("account-create", "post", "/api/v1/accounts/", {"number": "NEW-{n}", "name": "New"}, WRITERS, False),
    ("account-detail", "get", "/api/v1/accounts/12345678/", None, READERS, False),
    ("account-update", "patch", "/api/v1/accounts/12345678/", {"instruction": "x"}, WRITERS, False),
    ("signatory-list", "get", "/api/v1/accounts/12345678/signatories/", None, READERS, False),
    ("signatory-add", "post", "/api/v1/accounts/SPARE/signatories/", {"signer": "DIR-1"}, WRITERS, False),
    ("signatory-delete", "delete", "/api/v1/accounts/12345678/signatories/DIR-3/", None, WRITERS, False),
    ("mandate-history", "get", "/api/v1/accounts/12345678/mandate/", None, READERS, False),
    ("mandate-set", "put", "/api/v1/accounts/12345678/mandate/", MANDATE, WRITERS, False),
    ("mandate-words", "post", "/api/v1/accounts/12345678/mandate/words/", MANDATE, WRITERS, False),
    ("cheque-list", "get", "/api/v1/cheques/", None, DECIDERS, False),
    ("cheque-create", "post", "/api/v1/cheques/", "cheque", DECIDERS, True),
    ("cheque-detail", "get", "/api/v1/cheques/{cheque}/", None, DECIDERS, False),
    ("cheque-image", "get", "/api/v1/cheques/{cheque}/image/", None, DECIDERS, False),
    ("cheque-review", "post", "/api/v1/cheques/{cheque}/review/", {"outcome": "pay"}, REVIEWERS, False),
]
ROUTE_TEMPLATES = [
    "api/v1/accounts/",
    "api/v1/accounts/{}/",
    "api/v1/accounts/{}/signatories/",
    "api/v1/accounts/{}/signatories/{}/",
    "api/v1/accounts/{}/mandate/",
    "api/v1/accounts/{}/mandate/words/",
    "api/v1/cheques/",
    "api/v1/cheques/{}/",
    "api/v1/cheques/{}/image/",
    "api/v1/cheques/{}/review/",
]


@pytest.mark.parametrize("caller", CALLERS)
def test_routes_permission_matrix(caller, make_user, two_of_three):
    from apps.mandates import services

    services.account_create(number="SPARE", name="Spare")
    cheque = services.cheque_decide(account_number="12345678", amount="10.00", image=cheque_bytes([(1, False)]))
    client = APIClient()
    if caller != "anonymous":
        roles = () if caller in ("no_role", "superuser") else (caller,)
        user = make_user(*roles, is_superuser=caller == "superuser")
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user).key}")
    for n, (name, method, url, body, allowed, multipart) in enumerate(ROUTES):
        url = url.format(cheque=cheque.pk)
        if body == "cheque":
            data = {"account": "12345678", "amount": "10.00", "image": upload(cheque_bytes([(2, False)]), "c.png")}
        elif isinstance(body, dict):
            data = {k: (v.format(n=n) if isinstance(v, str) else v) for k, v in body.items()}
        else:
            data = None
        kwargs = {"format": "multipart" if multipart else "json"} if data is not None else {}
        code = (
            getattr(client, method)(url, data, **kwargs).status_code
            if data is not None
            else getattr(client, method)(url).status_code
        )
        if caller in allowed:
            assert code not in (401, 403) and code < 500, (caller, name, code)
        else:
            assert code == (401 if caller == "anonymous" else 403), (caller, name, code)
