"""Roles, tokens and the admin account."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from rest_framework.authtoken.models import Token

from .roles import ADMIN, ROLE_NAMES, ROLE_PERMISSIONS


def _permission_lookup(permission_model):
    return {
        f"{p.content_type.app_label}.{p.codename}": p for p in permission_model.objects.select_related("content_type")
    }


def sync_roles(group_model=Group, permission_model=Permission) -> dict[str, int]:
    """Create the role groups and grant their permissions (adds, never removes). Idempotent.

    Takes the model classes so the data migration can pass its historical models.
    """
    existing = _permission_lookup(permission_model)
    granted = {}
    for role in ROLE_NAMES:
        group, _ = group_model.objects.get_or_create(name=role)
        if role == ADMIN:
            wanted = list(existing.values())
        else:
            wanted = [existing[name] for name in ROLE_PERMISSIONS[role] if name in existing]
        group.permissions.add(*wanted)
        granted[role] = len(wanted)
    return granted


def sync_roles_after_migrate(sender, **kwargs):
    using = kwargs.get("using", "default")
    if using != "default":
        return
    # Permissions are created per app on this same signal: sync once, after the last app.
    from django.apps import apps

    if sender is list(apps.get_app_configs())[-1]:
        sync_roles()


def role_names(user) -> list[str]:
    if not user or not user.is_authenticated:
        return []
    roles = set(user.groups.filter(name__in=ROLE_NAMES).values_list("name", flat=True))
    if user.is_superuser:
        roles.add(ADMIN)
    return [r for r in ROLE_NAMES if r in roles]


def token_issue(user) -> Token:
    token, _ = Token.objects.get_or_create(user=user)
    return token


def token_revoke(user) -> bool:
    deleted, _ = Token.objects.filter(user=user).delete()
    return deleted > 0


def user_create_with_roles(username: str, password: str | None, roles=(), **extra):
    """A user in the given role groups (used by tests, demos and ensure_admin)."""
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.create_user(username=username, password=password, **extra)
        if roles:
            user.groups.add(*Group.objects.filter(name__in=roles))
    return user


def ensure_admin(username: str = "admin", password: str | None = None, email: str = "") -> tuple[object, str | None]:
    """Create the admin superuser once. Returns (user, password) where password is the new
    one (generated when not given) or None when the user already existed."""
    User = get_user_model()
    existing = User.objects.filter(username=username).first()
    if existing is not None:
        return existing, None
    password = password or secrets.token_urlsafe(15)
    with transaction.atomic():
        user = User.objects.create_superuser(username=username, email=email, password=password)
        sync_roles()
        user.groups.add(Group.objects.get(name=ADMIN))
    return user, password
