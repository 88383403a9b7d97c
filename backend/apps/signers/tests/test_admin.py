"""The admin changes signers through the services, as the API does."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("action, status", [("suspend", "suspended"), ("reactivate", "active")])
def test_the_admin_actions_go_through_the_service_so_updated_at_moves(admin_client, signer, action, status):
    if action == "reactivate":
        signer.status = "suspended"
        signer.save()
    before = signer.updated_at
    response = admin_client.post(
        reverse("admin:signers_signer_changelist"), {"action": action, "_selected_action": [signer.pk]}
    )
    assert response.status_code == 302
    signer.refresh_from_db()
    assert signer.status == status and signer.updated_at > before
