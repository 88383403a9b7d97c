"""Every role (and anonymous) against every clearing-files/ route: clerks, integrators and admins
upload and read clearing files; ML staff and users without a role get 403."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.accounts.services import token_issue
from apps.clearing import services
from testsupport.uploads import upload
from x937.writer import CheckItem, file_bytes

pytestmark = pytest.mark.django_db

CALLERS = ("anonymous", "no_role", "clerk", "integrator", "ml_staff", "admin", "superuser")
ALLOWED = {"clerk", "integrator", "admin", "superuser"}
ROUTE_TEMPLATES = [
    "api/v1/clearing-files/",
    "api/v1/clearing-files/{}/",
    "api/v1/clearing-files/{}/resume/",
    "api/v1/clearing-files/{}/items/",
    "api/v1/clearing-files/{}/export/{}/",
]


def cash_letter(sequence: str) -> bytes:
    return file_bytes([CheckItem(100, "12345678/1", sequence, b"II*\0")])


@pytest.mark.parametrize("caller", CALLERS)
def test_routes_permission_matrix(caller, make_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        row, _ = services.accept_clearing_file(upload=upload(cash_letter("1"), "a.icl"), user=make_user("clerk"))
    client = APIClient()
    if caller != "anonymous":
        roles = () if caller in ("no_role", "superuser") else (caller,)
        user = make_user(*roles, is_superuser=caller == "superuser")
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user).key}")
    url = f"/api/v1/clearing-files/{row.pk}/"
    with django_capture_on_commit_callbacks(execute=False):
        answers = {
            "list": client.get("/api/v1/clearing-files/").status_code,
            "create": client.post(
                "/api/v1/clearing-files/", {"file": upload(cash_letter(caller), "b.icl")}, format="multipart"
            ).status_code,
            "detail": client.get(url).status_code,
            "resume": client.post(f"{url}resume/").status_code,
            "items": client.get(f"{url}items/").status_code,
            "export-csv": client.get(f"{url}export/csv/").status_code,
            "export-json": client.get(f"{url}export/json/").status_code,
        }
    for name, code in answers.items():
        if caller in ALLOWED:
            assert code not in (401, 403) and code < 500, (caller, name, code)
        else:
            assert code == (401 if caller == "anonymous" else 403), (caller, name, code)
