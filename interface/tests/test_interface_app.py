"""AppTests of the app shell: login, menu by permission, session end, logout, API down."""

from pathlib import Path

import pytest
import shapes
from streamlit.testing.v1 import AppTest

import ui_common

APP = str(Path(__file__).resolve().parents[1] / "app.py")
APP_TIMEOUT = 120  # generous: CI machines can be busy


def titles(at):
    return [t.value for t in at.title]


def test_anonymous_user_sees_only_the_login_page(fake_api):
    at = AppTest.from_file(APP, default_timeout=APP_TIMEOUT).run()
    assert not at.exception
    assert titles(at) == ["SigVerify"]
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    with pytest.raises(ValueError):
        at.switch_page("app_pages/verify.py")  # not a registered page before login
    assert fake_api.requests == []


def test_login_exchanges_password_for_token_kept_in_session_state(fake_api):
    fake_api.on("POST", "auth/token/", json={"token": "tok-1"})
    fake_api.on("GET", "auth/me/", json=shapes.me("clerk"))
    fake_api.on("GET", "signers/", json=shapes.page([]))
    at = AppTest.from_file(APP, default_timeout=APP_TIMEOUT).run()
    at.text_input[0].input("clara")
    at.text_input[1].input("secret")
    at.button[0].click().run()
    at.run()
    assert not at.exception
    assert at.session_state["token"] == "tok-1"
    assert fake_api.received("POST", "auth/token/")[0].json == {"username": "clara", "password": "secret"}
    assert fake_api.received("GET", "auth/me/")[0].headers["Authorization"] == "Token tok-1"
    assert titles(at) == ["Verify a cheque signature"]
    assert "clara" in [m.value.strip("*") for m in at.sidebar.markdown]


def test_wrong_password_shows_the_api_message_and_keeps_user_logged_out(fake_api):
    fake_api.error("POST", "auth/token/", 400, "invalid", "Unable to log in with provided credentials.")
    at = AppTest.from_file(APP, default_timeout=APP_TIMEOUT).run()
    at.text_input[0].input("clara")
    at.text_input[1].input("wrong")
    at.button[0].click().run()
    assert not at.exception
    assert "token" not in at.session_state
    assert [e.value for e in at.error] == ["Login refused: Unable to log in with provided credentials."]


MANDATE_PAGES = ["app_pages/cheques.py", "app_pages/accounts.py"]


@pytest.mark.parametrize(
    "roles, pages",
    [
        (["clerk"], ["app_pages/verify.py", "app_pages/history.py", *MANDATE_PAGES, "app_pages/clearing.py"]),
        (
            ["integrator"],
            [
                "app_pages/verify.py",
                "app_pages/enroll.py",
                "app_pages/history.py",
                *MANDATE_PAGES,
                "app_pages/clearing.py",
            ],
        ),
        (["ml_staff"], ["app_pages/models.py"]),
        (
            ["admin"],
            [
                "app_pages/verify.py",
                "app_pages/enroll.py",
                "app_pages/history.py",
                *MANDATE_PAGES,
                "app_pages/models.py",
                "app_pages/clearing.py",
            ],
        ),
        (
            ["clerk", "ml_staff"],
            [
                "app_pages/verify.py",
                "app_pages/history.py",
                *MANDATE_PAGES,
                "app_pages/models.py",
                "app_pages/clearing.py",
            ],
        ),
        ([], []),
    ],
)
def test_menu_holds_only_the_pages_the_roles_allow(roles, pages):
    """By the permissions each role holds in the backend (what `/auth/me/` lists), not by its name."""
    assert ui_common.allowed_pages(shapes.permissions_of(*roles)) == pages


def test_menu_follows_permissions_not_role_names(open_app, fake_api):
    fake_api.on("GET", "verifications/", json=shapes.page([]))
    # An admin-made group the code never heard of: `/auth/me/` lists no role, only its permissions.
    at = open_app(permissions=["verifications.view_verification"])
    assert not at.exception
    assert titles(at) == ["Verification history"]
    at = open_app("clerk", permissions=[])  # the group's name alone opens nothing
    assert not at.exception
    assert "none of the permissions" in at.warning[0].value


def test_page_outside_the_role_cannot_be_opened(open_app, fake_api):
    fake_api.on("GET", "signers/", json=shapes.page([]))
    at = open_app("clerk")
    assert titles(at) == ["Verify a cheque signature"]
    with pytest.raises(ValueError):
        at.switch_page("app_pages/models.py")
    with pytest.raises(ValueError):
        at.switch_page("app_pages/enroll.py")


def test_ml_staff_lands_on_models(open_app, fake_api):
    fake_api.on("GET", "model-versions/", json=shapes.page([]))
    fake_api.on("GET", "promotions/", json=shapes.page([]))
    fake_api.on("GET", "training-jobs/", json=shapes.page([]))
    at = open_app("ml_staff")
    assert not at.exception
    assert titles(at) == ["Models"]


def test_user_without_a_known_role_is_told_so(open_app):
    at = open_app()  # in no product group and holding no permission
    assert not at.exception
    assert "none of the permissions this interface's pages need" in at.warning[0].value


def test_revoked_token_sends_the_user_back_to_login(fake_api):
    fake_api.error("GET", "auth/me/", 401, "authentication_failed", "Invalid token.")
    at = AppTest.from_file(APP, default_timeout=APP_TIMEOUT)
    at.session_state["token"] = "old"
    at.run()
    assert not at.exception
    assert "token" not in at.session_state
    assert titles(at) == ["SigVerify"]


def test_api_down_shows_plain_words_not_a_traceback(monkeypatch):
    monkeypatch.setenv("SIGVERIFY_API_URL", "http://127.0.0.1:9/api/v1")  # discard port: nothing listens
    at = AppTest.from_file(APP, default_timeout=APP_TIMEOUT)
    at.session_state["token"] = "t"
    at.run()
    assert not at.exception
    assert "cannot be reached" in at.error[0].value


def test_logout_revokes_the_token_and_clears_the_session(open_app, fake_api):
    fake_api.on("GET", "signers/", json=shapes.page([]))
    fake_api.on("POST", "auth/logout/", status=204)
    at = open_app("clerk")
    at.sidebar.button(key="logout").click().run()
    assert not at.exception
    logout = fake_api.received("POST", "auth/logout/")
    assert len(logout) == 1 and logout[0].headers["Authorization"] == "Token test-token"
    assert "token" not in at.session_state and "me" not in at.session_state
    assert titles(at) == ["SigVerify"]
