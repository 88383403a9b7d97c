import pytest
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token

from apps.accounts.roles import ROLE_NAMES

pytestmark = pytest.mark.django_db


def test_roles_exist_with_permissions_after_migrate():
    groups = {
        g.name: set(f"{p.content_type.app_label}.{p.codename}" for p in g.permissions.all())
        for g in Group.objects.prefetch_related("permissions__content_type")
    }
    assert set(ROLE_NAMES) <= set(groups)
    assert "verifications.add_verification" in groups["clerk"]
    assert "verifications.add_review" in groups["clerk"]
    assert "signers.add_signer" not in groups["clerk"]
    assert "signers.add_referencesignature" in groups["integrator"]
    assert "verifications.add_review" not in groups["integrator"]
    assert "modelregistry.view_modelversion" in groups["ml_staff"]
    assert "signers.view_signer" not in groups["ml_staff"]
    assert groups["clerk"] | groups["integrator"] | groups["ml_staff"] <= groups["admin"]


def test_token_for_valid_credentials_and_use_it(anon_client, make_user):
    make_user("clerk", username="carol", password="s3cret-Passw0rd")
    response = anon_client.post(
        "/api/v1/auth/token/", {"username": "carol", "password": "s3cret-Passw0rd"}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]
    assert set(response.json()) == {"token"}
    anon_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = anon_client.get("/api/v1/auth/me/").json()
    assert me["username"] == "carol"
    assert me["roles"] == ["clerk"]
    assert "verifications.add_verification" in me["permissions"]


def test_token_accepts_form_data(anon_client, make_user):
    make_user("clerk", username="dave", password="s3cret-Passw0rd")
    response = anon_client.post("/api/v1/auth/token/", {"username": "dave", "password": "s3cret-Passw0rd"})
    assert response.status_code == 200


def test_token_wrong_password_uses_the_error_format(anon_client, make_user):
    make_user("clerk", username="erin", password="s3cret-Passw0rd")
    response = anon_client.post("/api/v1/auth/token/", {"username": "erin", "password": "nope"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "credentials" in error["message"].lower()


def test_token_missing_fields(anon_client):
    response = anon_client.post("/api/v1/auth/token/", {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"username", "password"}


def test_logout_revokes_the_token(client_for):
    client = client_for("clerk")
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert not Token.objects.filter(user=client.user).exists()
    assert client.get("/api/v1/auth/me/").status_code == 401


def test_session_authentication_is_accepted(make_user):
    from rest_framework.test import APIClient

    user = make_user("clerk", username="sam", password="s3cret-Passw0rd")
    client = APIClient()
    assert client.login(username="sam", password="s3cret-Passw0rd")
    assert client.get("/api/v1/auth/me/").json()["username"] == user.username


def test_superuser_has_the_admin_role(make_user, client_for):
    user = make_user(username="root", is_superuser=True, is_staff=True)
    assert client_for(user=user).get("/api/v1/auth/me/").json()["roles"] == ["admin"]


def test_login_is_throttled_per_username(anon_client, make_user, monkeypatch):
    from django.core.cache import cache

    from apps.accounts.throttles import LoginRateThrottle

    make_user("clerk", username="fay", password="s3cret-Passw0rd")
    cache.clear()
    monkeypatch.setattr(LoginRateThrottle, "THROTTLE_RATES", {"login": "3/min", "verify": "100/min"})
    try:
        codes = [
            anon_client.post("/api/v1/auth/token/", {"username": "x", "password": "y"}, format="json").status_code
            for _ in range(4)
        ]
        assert codes == [400, 400, 400, 429]
        throttled = anon_client.post("/api/v1/auth/token/", {"username": "x", "password": "y"}, format="json")
        assert throttled.json()["error"]["code"] == "throttled"
        # Another account from the same address (e.g. the Streamlit server) is not locked out.
        other = anon_client.post(
            "/api/v1/auth/token/", {"username": "fay", "password": "s3cret-Passw0rd"}, format="json"
        )
        assert other.status_code == 200
    finally:
        cache.clear()


@pytest.mark.parametrize("kind", ["group_and_own", "own_only", "superuser", "inactive"])
def test_permissions_are_djangos_read_in_one_query(make_user, django_assert_num_queries, kind):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.backends import ModelBackend
    from django.contrib.auth.models import Permission

    from apps.accounts.backends import ModelBackendOneQuery

    user = make_user("clerk")
    if kind == "own_only":
        user.groups.clear()
    if kind != "superuser":  # a permission of the user's own, beside (or instead of) the group's
        user.user_permissions.add(Permission.objects.get(codename="add_signer"))
    user.is_superuser, user.is_active = kind == "superuser", kind != "inactive"
    user.save()

    def fresh():
        return get_user_model().objects.get(pk=user.pk)

    expected = ModelBackend().get_all_permissions(fresh())
    one = fresh()
    with django_assert_num_queries(0 if kind == "inactive" else 1):
        got = ModelBackendOneQuery().get_all_permissions(one)
        assert one.has_perm("signers.add_signer") == (kind != "inactive")  # the cached set, no query more
    assert got == expected
    if kind == "group_and_own":
        assert {"signers.add_signer", "verifications.add_verification"} <= got
    if kind == "own_only":
        assert got == {"signers.add_signer"}
    if kind == "superuser":
        assert len(got) == Permission.objects.count()
