from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from apps.core.services import health_report

from .serializers import health_serializer

# URLconfs are imported once the apps are ready, so every app's part is registered by now.
HealthSerializer = health_serializer()


class HealthView(APIView):
    """Database, model and broker state (and any other part an app registers). Open to anonymous
    callers (load balancers).

    Answers 200 when the database answers (``status`` says ``degraded`` when the model or
    broker is not fine) and 503 when the database is down.
    """

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(responses={200: HealthSerializer, 503: HealthSerializer})
    def get(self, request):
        report = health_report()
        code = status.HTTP_200_OK if report["database"]["ok"] else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(report, status=code)


class ApiRootView(APIView):
    """The API's resources and their URLs, and where its documentation is. Open to anonymous
    callers: it names only URLs, each of which asks for its own permission."""

    permission_classes = [AllowAny]
    authentication_classes = []
    resources: dict[str, str] = {}  # name -> URL name (given by the URLconf)

    @extend_schema(responses={200: {"type": "object", "additionalProperties": {"type": "string", "format": "uri"}}})
    def get(self, request):
        return Response({name: reverse(url_name, request=request) for name, url_name in self.resources.items()})
