import csv
import io
import json

import django_filters
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from apps.clearing import selectors, services
from apps.clearing.models import ClearingFile, ClearingItem
from apps.core.permissions import ActionPermissions

from .serializers import ClearingFileSerializer, ClearingFileUploadSerializer, ClearingItemSerializer, item_record

READ = ["clearing.view_clearingfile"]
UPLOAD = ["clearing.add_clearingfile"]
EXPORT_COLUMNS = [
    "key",
    "index",
    "record_number",
    "sequence_number",
    "payor_routing",
    "account",
    "amount",
    "business_date",
    "status",
    "decision",
    "cheque",
    "reasons",
    "failure_code",
    "failure_reason",
]


class ClearingItemFilter(django_filters.FilterSet):
    decision = django_filters.ChoiceFilter(choices=[("pay", "pay"), ("refer", "refer"), ("return", "return")])
    status = django_filters.ChoiceFilter(choices=ClearingItem.Status.choices)
    account = django_filters.CharFilter(field_name="account_number")

    class Meta:
        model = ClearingItem
        fields = ["decision", "status", "account"]


ITEM_FILTERS = [
    OpenApiParameter("decision", str, enum=["pay", "refer", "return"], description="Decided items with this decision."),
    OpenApiParameter("status", str, enum=["decided", "failed"]),
    OpenApiParameter("account", str, description="The account number read from the On-Us field."),
]


class ClearingFileViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Image cash letters received for clearing: upload one, follow its run, read and export the
    decision on every check in it."""

    permission_classes = [ActionPermissions]
    action_permissions = {
        "list": READ,
        "retrieve": READ,
        "items": READ,
        "export": READ,
        "create": UPLOAD,
        "resume": READ + UPLOAD,
    }
    parser_classes = [MultiPartParser]
    serializer_class = ClearingFileSerializer
    filterset_fields = ["status"]
    ordering_fields = ["created_at", "finished_at"]
    ordering = ["-created_at", "-id"]
    search_fields = ["file_name", "sha256"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ClearingFile.objects.none()
        return selectors.clearing_file_list()

    def filter_queryset(self, queryset):
        # The list's filters apply to the list only; one file is found by its id alone.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def _answer(self, pk, code):
        return Response(self.get_serializer(self.get_queryset().get(pk=pk)).data, status=code)

    @extend_schema(
        request={"multipart/form-data": ClearingFileUploadSerializer},
        responses={
            202: ClearingFileSerializer,
            200: OpenApiResponse(ClearingFileSerializer, description="This file was received before: its run."),
            400: OpenApiResponse(description="The file cannot be read: the message names the record and why."),
            413: OpenApiResponse(description="The file is larger than SIGVERIFY_CLEARING_MAX_MB."),
        },
    )
    def create(self, request):
        """Accept an image cash letter: it is read once (structure and totals) before the answer, then
        a worker decides each check against its account. 202 with its id; the same file again: 200
        with the run it already has (no new items)."""
        params = ClearingFileUploadSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        row, created = services.accept_clearing_file(upload=params.validated_data["file"], user=request.user)
        return self._answer(row.pk, status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)

    @extend_schema(
        request=None,
        responses={
            202: ClearingFileSerializer,
            409: OpenApiResponse(description="The run is done, or still running on a worker that reports."),
        },
    )
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Queue a failed or stopped run again: finished items are kept, the others decided."""
        row = services.resume_clearing_file(self.get_object())
        return self._answer(row.pk, status.HTTP_202_ACCEPTED)

    @extend_schema(responses=ClearingItemSerializer(many=True), parameters=ITEM_FILTERS)
    @action(detail=True, methods=["get"])
    def items(self, request, pk=None):
        """The file's finished items, in file order (filter by decision, status, account)."""
        page = self.paginate_queryset(_filtered_items(request, self.get_object()))
        return self.get_paginated_response(ClearingItemSerializer(page, many=True).data)

    @extend_schema(
        responses={(200, "text/csv"): str, (200, "application/json"): ClearingItemSerializer(many=True)},
        parameters=ITEM_FILTERS,
    )
    @action(detail=True, methods=["get"], url_path="export/(?P<kind>csv|json)", url_name="export")
    def export(self, request, pk=None, kind="csv"):
        """Every finished item's decision, streamed as CSV or as a JSON array (filters as for items)."""
        clearing_file = self.get_object()
        items = _filtered_items(request, clearing_file).iterator(chunk_size=1000)
        stem = f"clearing-{clearing_file.pk}-{clearing_file.sha256[:12]}"
        if kind == "csv":
            response = StreamingHttpResponse(_csv_rows(items), content_type="text/csv; charset=utf-8")
        else:
            response = StreamingHttpResponse(_json_array(items), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{stem}.{kind}"'
        return response


def _filtered_items(request, clearing_file):
    """The file's items the query selects; an unknown filter value is a 400, not an empty list."""
    filterset = ClearingItemFilter(request.query_params, queryset=selectors.clearing_items(clearing_file))
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset.qs


def _csv_rows(items):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for item in items:
        record = item_record(item)
        failure = record["failure"] or {}
        record.update(
            reasons="; ".join(record["reasons"]),
            failure_code=failure.get("code", ""),
            failure_reason=failure.get("reason", ""),
        )
        writer.writerow(["" if record[c] is None else record[c] for c in EXPORT_COLUMNS])
        if buffer.tell() > 65536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _json_array(items):
    yield "["
    for number, item in enumerate(items):
        yield ("," if number else "") + json.dumps(item_record(item))
    yield "]"
