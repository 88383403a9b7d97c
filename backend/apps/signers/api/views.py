from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from apps.core.exceptions import error_body
from apps.core.files import png_response, read_stored, stored_file_response
from apps.core.images import preprocess_bytes
from apps.core.permissions import ActionPermissions
from apps.modelregistry.selectors import get_active_version
from apps.modelregistry.serving import require_version
from apps.signers import selectors, services
from apps.signers.models import ReferenceSignature, Signer

from .serializers import (
    ReferenceSerializer,
    ReferenceUploadResultSerializer,
    ReferenceUploadSerializer,
    SignerSerializer,
)

VIEW_SIGNER = ["signers.view_signer"]
CHANGE_SIGNER = ["signers.view_signer", "signers.change_signer"]
VIEW_REF = ["signers.view_signer", "signers.view_referencesignature"]
REVIEW_REF = VIEW_REF + ["signers.change_referencesignature"]

SIGNER_KEY = OpenApiParameter(
    "id", OpenApiTypes.STR, OpenApiParameter.PATH, description="Signer id or external id (the external id wins)."
)
SIGNER_KEY_NESTED = OpenApiParameter(
    "signer_key", OpenApiTypes.STR, OpenApiParameter.PATH, description="Signer id or external id."
)
REFERENCE_STATUS = OpenApiParameter(
    "status",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    enum=ReferenceSignature.Status.values,
    description="Only references in this status (active: used for verification; pending_review: flagged).",
)
IMAGE_RESPONSE = OpenApiResponse(OpenApiTypes.BINARY, description="The image file.")
PNG_RESPONSE = OpenApiResponse(OpenApiTypes.BINARY, description="PNG of the preprocessed array the model sees.")


class SignerFilter(filters.FilterSet):
    class Meta:
        model = Signer
        fields = ["status"]


@extend_schema_view(
    retrieve=extend_schema(parameters=[SIGNER_KEY]),
    update=extend_schema(parameters=[SIGNER_KEY]),
    partial_update=extend_schema(parameters=[SIGNER_KEY]),
)
class SignerViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Signers: list (filter by status, search by external id and name), create, retrieve,
    update, suspend and reactivate. ``{id}`` is the id or the external id."""

    serializer_class = SignerSerializer
    permission_classes = [ActionPermissions]
    action_permissions = {
        "list": VIEW_SIGNER,
        "retrieve": VIEW_SIGNER,
        "create": ["signers.add_signer"],
        "update": CHANGE_SIGNER,
        "partial_update": CHANGE_SIGNER,
        "suspend": CHANGE_SIGNER,
        "reactivate": CHANGE_SIGNER,
    }
    filterset_class = SignerFilter
    search_fields = ["external_id", "full_name"]
    ordering_fields = ["external_id", "full_name", "created_at", "updated_at"]
    ordering = ["external_id"]
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return selectors.signer_list()

    def get_object(self):
        signer = selectors.get_signer(self.kwargs["pk"], self.get_queryset())
        self.check_object_permissions(self.request, signer)
        return signer

    def perform_create(self, serializer):
        serializer.instance = services.signer_create(**serializer.validated_data)

    def perform_update(self, serializer):
        services.signer_update(serializer.instance, **serializer.validated_data)

    def _set_status(self, new_status):
        signer = services.signer_set_status(self.get_object(), new_status)
        return Response(self.get_serializer(self.get_queryset().get(pk=signer.pk)).data)

    @extend_schema(request=None, responses=SignerSerializer, parameters=[SIGNER_KEY])
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        """Suspend a signer: verifications for them answer 409 until reactivated."""
        return self._set_status(Signer.Status.SUSPENDED)

    @extend_schema(request=None, responses=SignerSerializer, parameters=[SIGNER_KEY])
    @action(detail=True, methods=["post"])
    def reactivate(self, request, pk=None):
        return self._set_status(Signer.Status.ACTIVE)


@extend_schema(parameters=[SIGNER_KEY_NESTED])
@extend_schema_view(list=extend_schema(parameters=[REFERENCE_STATUS]))
class ReferenceViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """A signer's reference signatures: list (with where each came from and its status), upload
    (multipart ``images``), retrieve, delete, accept or reject a flagged one, and the stored
    image or its preprocessed PNG."""

    serializer_class = ReferenceSerializer
    permission_classes = [ActionPermissions]
    action_permissions = {
        "list": VIEW_REF,
        "retrieve": VIEW_REF,
        "image": VIEW_REF,
        "preprocessed": VIEW_REF,
        "create": VIEW_REF + ["signers.add_referencesignature"],
        "destroy": VIEW_REF + ["signers.delete_referencesignature"],
        "accept": REVIEW_REF,
        "reject": REVIEW_REF,
    }
    filter_backends = []
    queryset = Signer.objects.none()  # for the schema; get_queryset does the work

    def get_signer(self) -> Signer:
        if not hasattr(self, "_signer"):
            self._signer = selectors.get_signer(self.kwargs["signer_key"])
        return self._signer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ReferenceSignature.objects.none()
        return selectors.reference_list(self.get_signer())

    def filter_queryset(self, queryset):
        wanted = self.request.query_params.get("status") if self.action == "list" else None
        if wanted:
            if wanted not in ReferenceSignature.Status.values:
                raise ValidationError({"status": [f"Choose one of {', '.join(ReferenceSignature.Status.values)}."]})
            queryset = queryset.filter(status=wanted)
        return queryset

    def get_object(self):
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])

    @extend_schema(
        request={"multipart/form-data": ReferenceUploadSerializer},
        responses={
            201: ReferenceUploadResultSerializer,
            400: OpenApiResponse(description="No image was accepted; `rejected` says why for each."),
            503: OpenApiResponse(description="No model is active or it cannot be loaded."),
        },
    )
    def create(self, request, signer_key=None):
        """Enroll reference images. Each one is checked (readable, within size and pixel limits,
        ink found, not already enrolled) and embedded with the active model version."""
        signer = self.get_signer()
        upload = ReferenceUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        result = services.references_enroll(signer=signer, files=upload.validated_data["images"], user=request.user)

        def listed(references):
            rows = selectors.reference_list(signer).filter(pk__in=[r.pk for r in references])
            return ReferenceSerializer(rows, many=True, context=self.get_serializer_context()).data

        body = {"accepted": listed(result.accepted), "flagged": listed(result.flagged), "rejected": result.rejected}
        if not result.accepted and not result.flagged:
            messages = [f"{r['filename']}: {r['message']}" for r in result.rejected]
            body.update(
                error_body(
                    "no_image_accepted",
                    "No image was accepted. " + " ".join(messages),
                    {"images": messages},
                )
            )
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.reference_delete(instance)

    def _reviewed(self, review):
        reference = review(self.get_object(), user=self.request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=reference.pk)).data)

    @extend_schema(
        request=None,
        responses={200: ReferenceSerializer, 409: OpenApiResponse(description="Not pending review.")},
    )
    @action(detail=True, methods=["post"])
    def accept(self, request, signer_key=None, pk=None):
        """A person confirms a flagged reference is the signer's: verifications use it from now on."""
        return self._reviewed(services.reference_accept)

    @extend_schema(
        request=None,
        responses={200: ReferenceSerializer, 409: OpenApiResponse(description="Not pending review.")},
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, signer_key=None, pk=None):
        """A person confirms a flagged reference is not the signer's: it is kept for the record, never used."""
        return self._reviewed(services.reference_reject)

    @extend_schema(responses={(200, "image/*"): IMAGE_RESPONSE})
    @action(detail=True, methods=["get"])
    def image(self, request, signer_key=None, pk=None):
        reference = self.get_object()
        return stored_file_response(reference.image.name, reference.content_type)

    @extend_schema(responses={(200, "image/png"): PNG_RESPONSE})
    @action(detail=True, methods=["get"])
    def preprocessed(self, request, signer_key=None, pk=None):
        """The reference as the active model version sees it after preprocessing."""
        reference = self.get_object()
        version = require_version(get_active_version())
        array, _ = preprocess_bytes(read_stored(reference.image.name), version.input_size)
        return png_response(array)
