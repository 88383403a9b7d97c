"""The permission matrix: every role (and anonymous) against every endpoint.

A role that may call an endpoint must get past authentication and permissions (any answer
but 401/403); one that may not gets 403, and anonymous callers 401. Nothing but the
health check and the token endpoint is open to anonymous users.
"""

import pytest
from rest_framework.test import APIClient

from apps.accounts.services import token_issue, user_create_with_roles
from testsupport.synthetic_data import signature_bytes
from testsupport.uploads import upload

pytestmark = pytest.mark.django_db

ANON, NOROLE, CLERK, INTEGRATOR, ML, ADMIN, SUPER = (
    "anonymous",
    "no_role",
    "clerk",
    "integrator",
    "ml_staff",
    "admin",
    "superuser",
)
CALLERS = (ANON, NOROLE, CLERK, INTEGRATOR, ML, ADMIN, SUPER)
EVERYONE = set(CALLERS)
SIGNED_IN = EVERYONE - {ANON}
SIGNER_READERS = {CLERK, INTEGRATOR, ADMIN, SUPER}
SIGNER_WRITERS = {INTEGRATOR, ADMIN, SUPER}
VERIFIERS = {CLERK, INTEGRATOR, ADMIN, SUPER}
REVIEWERS = {CLERK, ADMIN, SUPER}
MODEL_READERS = {ML, ADMIN, SUPER}
POLICY_WRITERS = {ML, ADMIN, SUPER}

# (name, method, url template, body maker, allowed callers)
ENDPOINTS = [
    ("health", "get", "/api/v1/health/", None, EVERYONE),
    ("token", "post", "/api/v1/auth/token/", lambda ctx: {"username": "x", "password": "y"}, EVERYONE),
    ("me", "get", "/api/v1/auth/me/", None, SIGNED_IN),
    ("logout", "post", "/api/v1/auth/logout/", None, SIGNED_IN),
    ("schema", "get", "/api/v1/schema/", None, SIGNED_IN),
    ("docs", "get", "/api/v1/docs/", None, SIGNED_IN),
    ("signer-list", "get", "/api/v1/signers/", None, SIGNER_READERS),
    (
        "signer-create",
        "post",
        "/api/v1/signers/",
        lambda ctx: {"external_id": f"N-{ctx['n']}", "full_name": "N"},
        SIGNER_WRITERS,
    ),
    ("signer-detail", "get", "/api/v1/signers/{signer}/", None, SIGNER_READERS),
    ("signer-update", "patch", "/api/v1/signers/{signer}/", lambda ctx: {"full_name": "Renamed"}, SIGNER_WRITERS),
    ("signer-suspend", "post", "/api/v1/signers/{spare}/suspend/", None, SIGNER_WRITERS),
    ("signer-reactivate", "post", "/api/v1/signers/{spare}/reactivate/", None, SIGNER_WRITERS),
    ("reference-list", "get", "/api/v1/signers/{signer}/references/", None, SIGNER_READERS),
    (
        "reference-upload",
        "post",
        "/api/v1/signers/{spare}/references/",
        lambda ctx: {"images": [upload(signature_bytes(3, ctx["n"]))]},
        SIGNER_WRITERS,
    ),
    ("reference-detail", "get", "/api/v1/signers/{signer}/references/{reference}/", None, SIGNER_READERS),
    ("reference-image", "get", "/api/v1/signers/{signer}/references/{reference}/image/", None, SIGNER_READERS),
    (
        "reference-preprocessed",
        "get",
        "/api/v1/signers/{signer}/references/{reference}/preprocessed/",
        None,
        SIGNER_READERS,
    ),
    ("reference-accept", "post", "/api/v1/signers/{signer}/references/{reference}/accept/", None, SIGNER_WRITERS),
    ("reference-reject", "post", "/api/v1/signers/{signer}/references/{reference}/reject/", None, SIGNER_WRITERS),
    ("reference-delete", "delete", "/api/v1/signers/{signer}/references/{reference}/", None, SIGNER_WRITERS),
    ("verification-list", "get", "/api/v1/verifications/", None, VERIFIERS),
    (
        "verification-create",
        "post",
        "/api/v1/verifications/",
        lambda ctx: {"signer": ctx["signer"], "image": upload(signature_bytes(1, 50))},
        VERIFIERS,
    ),
    ("verification-detail", "get", "/api/v1/verifications/{verification}/", None, VERIFIERS),
    ("verification-image", "get", "/api/v1/verifications/{verification}/image/", None, VERIFIERS),
    ("verification-preprocessed", "get", "/api/v1/verifications/{verification}/preprocessed/", None, VERIFIERS),
    (
        "verification-review",
        "post",
        "/api/v1/verifications/{verification}/review/",
        lambda ctx: {"final_decision": "genuine", "comment": "ok"},
        REVIEWERS,
    ),
    (
        "signature-region",
        "post",
        "/api/v1/signature-region/",
        lambda ctx: {"image": upload(signature_bytes(1, 51))},
        VERIFIERS,
    ),
    ("model-version-list", "get", "/api/v1/model-versions/", None, MODEL_READERS),
    ("model-version-detail", "get", "/api/v1/model-versions/{version}/", None, MODEL_READERS),
    ("model-version-plot", "get", "/api/v1/model-versions/{version}/plots/{plot}/", None, MODEL_READERS),
    ("model-version-policy", "get", "/api/v1/model-versions/{version}/policy/", None, MODEL_READERS),
    (
        "model-version-policy-set",
        "put",
        "/api/v1/model-versions/{version}/policy/",
        lambda ctx: {"far_skilled": 0.005, "frr": 0.01, "reason": "matrix"},
        POLICY_WRITERS,
    ),
    ("model-version-policy-preview", "get", "/api/v1/model-versions/{version}/policy/preview/", None, MODEL_READERS),
]


def _client(caller, counter):
    client = APIClient()
    if caller == ANON:
        return client
    roles = {NOROLE: (), SUPER: ()}.get(caller, (caller,))
    user = user_create_with_roles(
        f"matrix-{caller}-{counter}", "pw-Strong-123", roles=roles, is_superuser=caller == SUPER
    )
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user).key}")
    return client


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("name, method, template, body, allowed", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_permission_matrix(caller, name, method, template, body, allowed, verification, active_version):
    from apps.signers.services import signer_create

    signer = verification.signer
    spare = signer_create(external_id="SPARE", full_name="Spare Signer")
    ctx = {
        "signer": signer.pk,
        "spare": spare.pk,
        "reference": signer.references.first().pk,
        "verification": verification.pk,
        "version": active_version.pk,
        "plot": "roc.png",
        "n": 1,
    }
    client = _client(caller, 1)
    url = template.format(**ctx)
    data = body(ctx) if body else None
    fmt = "multipart" if name in ("reference-upload", "verification-create", "signature-region") else "json"
    response = getattr(client, method)(url, data, format=fmt) if data is not None else getattr(client, method)(url)
    if caller in allowed:
        assert response.status_code not in (401, 403), (caller, name, response.status_code)
        assert response.status_code < 500, (caller, name, response.status_code)
    elif caller == ANON:
        assert response.status_code == 401, (caller, name, response.status_code)
        assert _error_code(response) in ("not_authenticated", None)
    else:
        assert response.status_code == 403, (caller, name, response.status_code)
        assert _error_code(response) in ("permission_denied", None)


def _error_code(response):
    """The error code from a JSON body (the schema views answer in their own formats)."""
    if "json" not in response.get("Content-Type", "") or "openapi" in response.get("Content-Type", ""):
        return None
    return response.json()["error"]["code"]
