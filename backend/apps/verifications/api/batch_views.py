import json

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from apps.core.exceptions import body_too_large
from apps.core.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from apps.core.permissions import ActionPermissions
from apps.verifications import batches, selectors
from apps.verifications.models import VerificationBatch

from .batch_serializers import BatchCreateSerializer, VerificationBatchDetailSerializer, VerificationBatchSerializer

VERIFY = ["verifications.add_verification"]
READ = ["verifications.view_verification"]


class BatchJSONParser(BaseParser):
    """JSON with a size limit of its own, ``SIGVERIFY_BATCH_MAX_MB``, checked before reading.

    Not a ``JSONParser``: DRF reads that one's body whole under ``DATA_UPLOAD_MAX_MEMORY_SIZE``
    (one image's size), which a batch of real scans passes.
    """

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context.get("request")
        limit = settings.SIGVERIFY_BATCH_MAX_MB * 1024 * 1024
        length = int((request.META.get("CONTENT_LENGTH") if request is not None else 0) or 0)
        if length > limit:
            raise _too_large(length)
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:  # no or a false Content-Length
            raise _too_large(len(body))
        try:
            return json.loads(body.decode(parser_context.get("encoding", settings.DEFAULT_CHARSET)))
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc


def _too_large(length: int):
    error = body_too_large(length, settings.SIGVERIFY_BATCH_MAX_MB * 1024 * 1024, what="batch")
    error.message += " Split it into smaller batches."
    return error


class VerificationBatchViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Batches of verifications for the bank's systems: send up to 500 cheques at once, then
    follow the batch until it is done and read each item's result or error.

    Whoever may verify may send batches and read their own; admins read everyone's."""

    permission_classes = [ActionPermissions]
    action_permissions = {"list": READ, "retrieve": READ, "create": VERIFY, "resume": READ + VERIFY}
    parser_classes = [BatchJSONParser]
    filterset_fields = ["status"]
    ordering_fields = ["created_at", "finished_at"]
    ordering = ["-created_at", "-id"]
    search_fields = []
    throttle_scope = "verify"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return VerificationBatch.objects.none()
        return selectors.batch_list(self.request.user)

    def get_serializer_class(self):
        if self.action == "list" or (self.action == "retrieve" and not self._with_items()):
            return VerificationBatchSerializer
        return VerificationBatchDetailSerializer

    def _with_items(self) -> bool:
        return self.request.query_params.get("items", "true").strip().lower() not in ("false", "0", "no")

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "items",
                bool,
                description="false: the batch and its progress without the items, a cheap answer to poll "
                "until `status` is done (then read it once with the items).",
            )
        ]
    )
    def retrieve(self, request, *args, **kwargs):
        """A batch, its progress and (unless `items=false`) every item's result or error."""
        return super().retrieve(request, *args, **kwargs)

    def get_throttles(self):
        if getattr(self, "action", None) == "create":
            return [ScopedRateThrottle()]
        return super().get_throttles()

    @extend_schema(
        request=BatchCreateSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            202: VerificationBatchDetailSerializer,
            400: OpenApiResponse(
                description="The envelope is invalid: no items, more than 500, an item without "
                "signer or image, a malformed crop (`fields` names the item)."
            ),
            413: OpenApiResponse(description="The body is larger than SIGVERIFY_BATCH_MAX_MB."),
            422: OpenApiResponse(description="The Idempotency-Key was used for a different request."),
        },
    )
    def create(self, request):
        """Accept a batch (JSON, images in base64) and answer at once with 202 and its id.

        Every item's image is stored before the answer; a worker then verifies the items
        through the same service as `POST /verifications/`, each with its own log row. An
        image that cannot be used fails its own item only (see the item's `error`)."""
        return idempotent(request, lambda: self._create(request))

    def _create(self, request):
        params = BatchCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        batch = batches.create_batch(user=request.user, items=params.validated_data["items"])
        batch = self.get_queryset().get(pk=batch.pk)
        return Response(self.get_serializer(batch).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={
            202: VerificationBatchDetailSerializer,
            409: OpenApiResponse(description="The batch is done, or still running on a worker that reports."),
        },
    )
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Queue a failed or stopped batch again (e.g. after its worker was killed): finished
        items are kept and only the pending ones are verified."""
        batch = batches.resume_batch(self.get_object())
        return Response(self.get_serializer(self.get_queryset().get(pk=batch.pk)).data, status=status.HTTP_202_ACCEPTED)
