import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_ensure_admin_generates_a_password_once(capsys, monkeypatch):
    monkeypatch.delenv("DJANGO_ADMIN_PASSWORD", raising=False)
    call_command("ensure_admin")
    out = capsys.readouterr().out
    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser and user.is_staff
    assert user.groups.filter(name="admin").exists()
    password = out.split("password:")[1].split()[0]
    assert len(password) >= 16
    assert user.check_password(password)

    call_command("ensure_admin")
    again = capsys.readouterr().out
    assert password not in again
    assert "already exists" in again


def test_ensure_admin_two_runs_generate_different_passwords(capsys, monkeypatch):
    monkeypatch.delenv("DJANGO_ADMIN_PASSWORD", raising=False)
    call_command("ensure_admin", username="first")
    call_command("ensure_admin", username="second")
    out = capsys.readouterr().out
    passwords = [chunk.split()[0] for chunk in out.split("password:")[1:]]
    assert len(passwords) == 2 and passwords[0] != passwords[1]


def test_ensure_admin_takes_the_password_from_the_environment(capsys, monkeypatch):
    monkeypatch.setenv("DJANGO_ADMIN_PASSWORD", "from-the-env-Passw0rd")
    call_command("ensure_admin")
    out = capsys.readouterr().out
    assert "from-the-env-Passw0rd" not in out
    assert get_user_model().objects.get(username="admin").check_password("from-the-env-Passw0rd")
