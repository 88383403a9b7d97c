from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import ReferenceViewSet, SignerViewSet

router = SimpleRouter()
router.register("", SignerViewSet, basename="signer")

references = ReferenceViewSet.as_view({"get": "list", "post": "create"})
reference = ReferenceViewSet.as_view({"get": "retrieve", "delete": "destroy"})

urlpatterns = [
    path("<str:signer_key>/references/", references, name="signer-reference-list"),
    path("<str:signer_key>/references/<int:pk>/", reference, name="signer-reference-detail"),
    path(
        "<str:signer_key>/references/<int:pk>/image/",
        ReferenceViewSet.as_view({"get": "image"}),
        name="signer-reference-image",
    ),
    path(
        "<str:signer_key>/references/<int:pk>/accept/",
        ReferenceViewSet.as_view({"post": "accept"}),
        name="signer-reference-accept",
    ),
    path(
        "<str:signer_key>/references/<int:pk>/reject/",
        ReferenceViewSet.as_view({"post": "reject"}),
        name="signer-reference-reject",
    ),
    path(
        "<str:signer_key>/references/<int:pk>/preprocessed/",
        ReferenceViewSet.as_view({"get": "preprocessed"}),
        name="signer-reference-preprocessed",
    ),
    *router.urls,
]
