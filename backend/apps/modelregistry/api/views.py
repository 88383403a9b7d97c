from rest_framework import viewsets

from apps.core.permissions import ActionPermissions
from apps.modelregistry.selectors import model_version_list

from .serializers import ModelVersionSerializer

VIEW = ["modelregistry.view_modelversion"]


class ModelVersionViewSet(viewsets.ReadOnlyModelViewSet):
    """Model versions, newest first; the active one serves verifications."""

    serializer_class = ModelVersionSerializer
    permission_classes = [ActionPermissions]
    action_permissions = {"list": VIEW, "retrieve": VIEW}
    filterset_fields = ["is_active"]
    search_fields = ["name", "sha256"]
    ordering_fields = ["created_at", "name"]

    def get_queryset(self):
        return model_version_list()
