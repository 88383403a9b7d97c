from pathlib import Path

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound

from apps.core.permissions import ActionPermissions
from apps.modelregistry.selectors import model_version_list

from .serializers import ModelVersionSerializer

VIEW = ["modelregistry.view_modelversion"]


class ModelVersionViewSet(viewsets.ReadOnlyModelViewSet):
    """Model versions, newest first; the active one serves verifications."""

    serializer_class = ModelVersionSerializer
    permission_classes = [ActionPermissions]
    action_permissions = {"list": VIEW, "retrieve": VIEW, "plot": VIEW}
    filterset_fields = ["is_active"]
    search_fields = ["name", "sha256"]
    ordering_fields = ["created_at", "name"]

    def get_queryset(self):
        return model_version_list()

    @extend_schema(
        parameters=[OpenApiParameter("name", str, OpenApiParameter.PATH, description="a file named in card.plots")],
        responses={(200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="An evaluation plot (ROC, DET, histograms).")},
    )
    @action(detail=True, methods=["get"], url_path=r"plots/(?P<name>[A-Za-z0-9_.-]+\.png)")
    def plot(self, request, pk=None, name=None):
        """A plot shipped beside the weights; only the names the model card lists are served."""
        version = self.get_object()
        if name not in (version.card or {}).get("plots", []):
            raise NotFound(f"model version {version.name} has no plot named {name}")
        path = Path(version.weights_path) / name
        if not path.is_file():
            raise NotFound(f"the plot {name} is missing from {version.weights_path}")
        response = FileResponse(open(path, "rb"), content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"
        return response
