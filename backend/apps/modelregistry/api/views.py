from pathlib import Path

import django_filters
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from apps.core.api.filters import SeenStatusFilter
from apps.core.permissions import ActionPermissions
from apps.modelregistry import services
from apps.modelregistry.models import Promotion
from apps.modelregistry.selectors import (
    model_version_list,
    policy_of,
    policy_preview,
    policy_state,
    promotion_list,
)
from sigverify.policy import Policy

from .serializers import (
    ModelVersionSerializer,
    PolicyPreviewSerializer,
    PolicyStateSerializer,
    PolicyTargetsSerializer,
    PolicyUpdateSerializer,
    PromotionSerializer,
)

VIEW = ["modelregistry.view_modelversion"]
PROMOTE = ["modelregistry.change_modelversion", "modelregistry.add_promotion"]
CHANGE_POLICY = [*VIEW, "modelregistry.change_operating_policy"]
BROKER_DOWN = OpenApiResponse(description="The task queue is unreachable; the promotion is recorded as failed.")


class ModelVersionViewSet(viewsets.ReadOnlyModelViewSet):
    """Model versions, newest first; the active one serves verifications."""

    serializer_class = ModelVersionSerializer
    permission_classes = [ActionPermissions]
    action_permissions = {
        "list": VIEW,
        "retrieve": VIEW,
        "plot": VIEW,
        "promote": PROMOTE,
        "policy": VIEW,
        "policy_preview": VIEW,
        "update_policy": CHANGE_POLICY,
    }
    filterset_fields = ["is_active"]
    search_fields = ["name", "sha256"]
    ordering_fields = ["created_at", "name"]

    def get_queryset(self):
        return model_version_list()

    @extend_schema(
        parameters=[OpenApiParameter("name", str, OpenApiParameter.PATH, description="a file named in card.plots")],
        responses={
            (200, "image/png"): OpenApiResponse(
                OpenApiTypes.BINARY, description="An evaluation plot (ROC, DET, histograms)."
            )
        },
    )
    @action(detail=True, methods=["get"], url_path=r"plots/(?P<name>[A-Za-z0-9_.-]+\.png)")
    def plot(self, request, pk=None, name=None):
        """A plot shipped beside the weights; only the names the model card lists are served."""
        version = self.get_object()
        if name not in version.model_card.plots:
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
        promotion = services.promotion_start(version=self.get_object(), requested_by=request.user)
        return Response(PromotionSerializer(promotion).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=PolicyStateSerializer)
    @action(detail=True, methods=["get"])
    def policy(self, request, pk=None):
        """The operating policy, the thresholds in force, its outcome on test writers and the sweep of policies.

        A version published without validation scores has ``validation_scores.available`` false
        (with the reason) and keeps its model card's thresholds.
        """
        return Response(PolicyStateSerializer(policy_state(self.get_object())).data)

    @extend_schema(
        request=PolicyUpdateSerializer,
        responses={200: PolicyStateSerializer, 409: OpenApiResponse(description="no_validation_scores")},
    )
    @policy.mapping.put
    def update_policy(self, request, pk=None):
        """Set the targets; ``accept``/``reject`` follow from the validation scores (audited, reason required).

        409 ``no_validation_scores`` for a version published without them.
        """
        version = self.get_object()
        serializer = PolicyUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.policy_set(version, user=request.user, **serializer.validated_data)
        return Response(PolicyStateSerializer(policy_state(version)).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("far_skilled", float, description="forgeries that may be accepted (default: current)"),
            OpenApiParameter("frr", float, description="genuine that may be rejected (default: current)"),
        ],
        responses={200: PolicyPreviewSerializer, 409: OpenApiResponse(description="no_validation_scores")},
    )
    @action(detail=True, methods=["get"], url_path="policy/preview")
    def policy_preview(self, request, pk=None):
        """What a policy would do before applying it: thresholds, forgeries accepted, genuine rejected, referred."""
        version = self.get_object()
        current = policy_of(version)
        serializer = PolicyTargetsSerializer(
            data={"far_skilled": current.far_skilled, "frr": current.frr, **request.query_params.dict()}
        )
        serializer.is_valid(raise_exception=True)
        return Response(PolicyPreviewSerializer(policy_preview(version, Policy(**serializer.validated_data))).data)


class PromotionFilter(django_filters.FilterSet):
    status = SeenStatusFilter(choices=Promotion.Status.choices)

    class Meta:
        model = Promotion
        fields = ["status", "model_version"]


class PromotionViewSet(viewsets.ReadOnlyModelViewSet):
    """Promotions: re-embedding every reference with a version, then making it active."""

    serializer_class = PromotionSerializer
    permission_classes = [ActionPermissions]
    action_permissions = {"list": ["modelregistry.view_promotion"], "retrieve": ["modelregistry.view_promotion"]}
    filterset_class = PromotionFilter
    ordering_fields = ["created_at"]
    search_fields = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no query
            return Promotion.objects.none()
        return promotion_list()
