from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import services
from apps.accounts.throttles import LoginRateThrottle

from .serializers import MeSerializer, TokenSerializer


class TokenView(ObtainAuthToken):
    """Exchange a username and password for an API token: `Authorization: Token <token>`."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        request={
            "application/json": AuthTokenSerializer,
            "multipart/form-data": AuthTokenSerializer,
            "application/x-www-form-urlencoded": AuthTokenSerializer,
        },
        responses={200: TokenSerializer, 400: OpenApiResponse(description="Wrong username or password.")},
        auth=[],
    )
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token = services.token_issue(serializer.validated_data["user"])
        return Response({"token": token.key})


class LogoutView(APIView):
    """Revoke the caller's token (every client using it is logged out)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        services.token_revoke(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    """Who is calling: username, roles and permissions (clients build their menus from it)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        user = request.user
        return Response(
            {
                "id": user.pk,
                "username": user.get_username(),
                "full_name": user.get_full_name(),
                "roles": services.role_names(user),
                "permissions": sorted(user.get_all_permissions()),
                "is_staff": user.is_staff,
            }
        )
