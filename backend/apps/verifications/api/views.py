from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from apps.core.api.filters import UtcDateTimeFilter
from apps.core.files import png_response, read_stored, stored_file_response
from apps.core.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from apps.core.images import content_type_for_name, preprocess_bytes
from apps.core.permissions import ActionPermissions
from apps.signers.selectors import find_signer, get_signer
from apps.verifications import selectors, services
from apps.verifications.models import Decision, Verification

from .serializers import (
    ReviewInputSerializer,
    ReviewSerializer,
    SignatureRegionInputSerializer,
    SignatureRegionSerializer,
    VerificationSerializer,
    VerifyInputSerializer,
)

VIEW = ["verifications.view_verification"]


class VerificationFilter(filters.FilterSet):
    signer = filters.CharFilter(method="filter_signer", help_text="Signer id or external id.")
    decision = filters.ChoiceFilter(choices=Decision.choices)
    requested_by = filters.CharFilter(field_name="requested_by__username", help_text="Username of the requester.")
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    date_from = filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", help_text="From this day (inclusive)."
    )
    date_to = filters.DateFilter(field_name="created_at", lookup_expr="date__lte", help_text="To this day (inclusive).")
    model_version = filters.NumberFilter(field_name="model_version_id")
    cheque_reference = filters.CharFilter()
    reviewed = filters.BooleanFilter(field_name="review", lookup_expr="isnull", exclude=True)
    batch = filters.NumberFilter(field_name="batch_id", help_text="Verification batch id.")

    class Meta:
        model = Verification
        fields = ["signer", "decision", "requested_by", "model_version", "cheque_reference"]

    def filter_signer(self, queryset, name, value):
        signer = find_signer(value)
        return queryset.filter(signer=signer) if signer else queryset.none()


class VerificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The verification log: verify a questioned signature, browse and review results."""

    serializer_class = VerificationSerializer
    permission_classes = [ActionPermissions]
    action_permissions = {
        "list": VIEW,
        "retrieve": VIEW,
        "image": VIEW,
        "preprocessed": VIEW,
        "create": ["verifications.add_verification"],
        "review": VIEW + ["verifications.add_review"],
    }
    filterset_class = VerificationFilter
    search_fields = ["signer__external_id", "signer__full_name", "cheque_reference"]
    ordering_fields = ["created_at", "score", "processing_ms", "decision"]
    ordering = ["-created_at", "-id"]
    throttle_scope = "verify"

    def get_queryset(self):
        return selectors.verification_list()

    def get_throttles(self):
        if getattr(self, "action", None) == "create":
            return [ScopedRateThrottle()]
        return super().get_throttles()

    @extend_schema(
        request={"multipart/form-data": VerifyInputSerializer},
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: VerificationSerializer,
            400: OpenApiResponse(description="Invalid input or an image that cannot be used (code says why)."),
            404: OpenApiResponse(description="No such signer."),
            409: OpenApiResponse(description="The signer is suspended or has no reference signatures."),
            422: OpenApiResponse(description="The Idempotency-Key was used for a different request."),
            503: OpenApiResponse(description="No model is active or it cannot be loaded."),
        },
    )
    def create(self, request):
        """Verify a questioned signature (or a cheque scan with its signature box in `crop`)
        against the signer's references. Answers with the full verification record."""
        return idempotent(request, lambda: self._verify(request))

    def _verify(self, request):
        data = VerifyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        signer = get_signer(data.validated_data["signer"])
        verification = services.verification_create(
            signer=signer,
            image=data.validated_data["image"],
            crop=data.validated_data.get("crop"),
            cheque_reference=data.validated_data.get("cheque_reference", ""),
            user=request.user,
        )
        # the row just written, as it is: no re-read, and a new verification has no review to look up
        serializer = self.get_serializer(verification)
        serializer.context["new"] = True
        return Response(serializer.data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ReviewInputSerializer,
        responses={
            201: ReviewSerializer,
            400: OpenApiResponse(description="Not genuine/forgery, or `comment_required`: overruling needs a comment."),
            409: OpenApiResponse(description="Already reviewed."),
        },
    )
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        """Record the human's final call (genuine or forgery) and a comment; a comment is
        required when it overrules the model."""
        verification = self.get_object()
        data = ReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        review = services.review_create(verification=verification, reviewer=request.user, **data.validated_data)
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={
            (200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The questioned image as uploaded.")
        }
    )
    @action(detail=True, methods=["get"])
    def image(self, request, pk=None):
        verification = self.get_object()
        name = verification.image.name
        return stored_file_response(name, content_type_for_name(name))

    @extend_schema(
        responses={
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="PNG of the array the model saw.")
        }
    )
    @action(detail=True, methods=["get"])
    def preprocessed(self, request, pk=None):
        """The questioned signature exactly as the model saw it (crop and preprocessing applied)."""
        verification = self.get_object()
        array, _ = preprocess_bytes(
            read_stored(verification.image.name), verification.model_version.input_size, crop=verification.crop
        )
        return png_response(array)


class SignatureRegionView(APIView):
    """Propose the signature box on a whole-cheque scan: the largest cluster of ink in the
    lower right, above the code line. Stores nothing; send the box as `crop` to verify."""

    permission_classes = [ActionPermissions]
    action_permissions = {"post": ["verifications.add_verification"]}
    parser_classes = [MultiPartParser, FormParser]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "verify"

    @extend_schema(
        request={"multipart/form-data": SignatureRegionInputSerializer},
        responses={
            200: SignatureRegionSerializer,
            400: OpenApiResponse(description="An image that cannot be used (`code` says why, as for verifications)."),
        },
    )
    def post(self, request):
        data = SignatureRegionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        region = services.signature_region_propose(image=data.validated_data["image"])
        return Response(SignatureRegionSerializer(region).data)
