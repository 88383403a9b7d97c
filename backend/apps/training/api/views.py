import django_filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.api.filters import SeenStatusFilter
from apps.core.permissions import ActionPermissions
from apps.training import selectors, services
from apps.training.models import TrainingJob

from .serializers import TrainingJobCreateSerializer, TrainingJobSerializer

VIEW_JOBS = ["training.view_trainingjob"]
BROKER_DOWN = OpenApiResponse(description="The task queue is unreachable; the job is recorded as failed.")


class TrainingJobFilter(django_filters.FilterSet):
    status = SeenStatusFilter(choices=TrainingJob.Status.choices)

    class Meta:
        model = TrainingJob
        fields = ["status"]


class TrainingJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Training jobs: start one (it runs on a worker of the GPU queue), follow its progress,
    cancel it. The resulting model version is registered inactive; promote it to use it."""

    serializer_class = TrainingJobSerializer
    permission_classes = [ActionPermissions]
    action_permissions = {
        "list": VIEW_JOBS,
        "retrieve": VIEW_JOBS,
        "create": VIEW_JOBS + ["training.add_trainingjob"],
        "cancel": VIEW_JOBS + ["training.change_trainingjob"],
    }
    filterset_class = TrainingJobFilter
    ordering_fields = ["created_at", "finished_at"]
    search_fields = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no query
            return TrainingJob.objects.none()
        return selectors.training_job_list()

    @extend_schema(
        request=TrainingJobCreateSerializer,
        responses={202: TrainingJobSerializer, 503: BROKER_DOWN},
    )
    def create(self, request):
        params = TrainingJobCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        job = services.training_job_start(requested_by=request.user, **params.validated_data)
        return Response(self.get_serializer(selectors.training_job_get(job.pk)).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: TrainingJobSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        job = services.training_job_cancel(self.get_object())
        return Response(self.get_serializer(job).data, status=status.HTTP_202_ACCEPTED)
