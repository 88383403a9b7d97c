"""Per-action Django permissions: each view declares what each action needs.

Roles are Django groups holding these permissions (see ``apps.accounts.roles``); a view
never checks group names, only permissions, so an admin can reshape roles without code.
"""

from rest_framework.permissions import BasePermission


class ActionPermissions(BasePermission):
    """Grant an action when the user holds every permission listed for it in
    ``view.action_permissions`` (``{"list": ["app.view_model"], ...}``).

    An action that is not listed is refused: forgetting an entry fails closed.
    """

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        action = getattr(view, "action", None) or request.method.lower()
        required = getattr(view, "action_permissions", {}).get(action)
        if required is None:
            return False
        return user.has_perms(required)


def permissions_for(**actions):
    """Shorthand used by views: ``permissions_for(list=["signers.view_signer"], ...)``."""
    return {name: list(perms) for name, perms in actions.items()}
