from django.urls import path

from .views import LogoutView, MeView, TokenView

urlpatterns = [
    path("token/", TokenView.as_view(), name="auth-token"),
    path("logout/", LogoutView.as_view(), name="auth-logout"),
    path("me/", MeView.as_view(), name="auth-me"),
]
