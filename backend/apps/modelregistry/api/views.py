from pathlib import Path

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from apps.core.permissions import ActionPermissions
from apps.modelregistry import services
from apps.modelregistry.models import Promotion
from apps.modelregistry.selectors import model_version_list, promotion_list

from .serializers import ModelVersionSerializer, PromotionSerializer

VIEW = ["modelregistry.view_modelversion"]
PROMOTE = ["modelregistry.change_modelversion", "modelregistry.add_promotion"]
BROKER_DOWN = OpenApiResponse(description="The task queue is unreachable; the promotion is recorded as failed.")


class ModelVersionViewSet(viewsets.ReadOnlyModelViewSet):
    """Model versions, newest first; the active one serves verifications."""

    serializer_class = ModelVersionSerializer
    permission_classes = [ActionPermissions]
    action_permissions = {"list": VIEW, "retrieve": VIEW, "plot": VIEW, "promote": PROMOTE}
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

    @extend_schema(
        request=None,
        responses={
            202: PromotionSerializer,
            409: OpenApiResponse(description="Already active, or another promotion is running."),
            503: BROKER_DOWN,
        },
    )
    @action(detail=True, methods=["post"])
    def promote(self, request, pk=None):
        """Start promoting a model version: its embeddings of every reference are computed on a
        worker, and only when all exist does it become the active version (in one transaction).
        Rolling back is promoting the earlier version; its embeddings are still there."""
        promotion = services.start_promotion(version=self.get_object(), requested_by=request.user)
        return Response(PromotionSerializer(promotion).data, status=status.HTTP_202_ACCEPTED)


class PromotionViewSet(viewsets.ReadOnlyModelViewSet):
    """Promotions: re-embedding every reference with a version, then making it active."""

    serializer_class = PromotionSerializer
    permission_classes = [ActionPermissions]
    action_permissions = {"list": ["modelregistry.view_promotion"], "retrieve": ["modelregistry.view_promotion"]}
    filterset_fields = ["status", "model_version"]
    ordering_fields = ["created_at"]
    search_fields = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no query, no stale check
            return Promotion.objects.none()
        return promotion_list()
