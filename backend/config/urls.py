from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.core.api.views import ApiRootView
from apps.verifications.api.views import SignatureRegionView

# What GET /api/v1/ lists: resource -> URL name.
API_ROOT = {
    "signers": "signer-list",
    "verifications": "verification-list",
    "verification-batches": "verification-batch-list",
    "signature-region": "signature-region",
    "model-versions": "model-version-list",
    "promotions": "promotion-list",
    "training-jobs": "training-job-list",
    "auth-token": "auth-token",
    "me": "auth-me",
    "health": "health",
    "schema": "schema",
    "docs": "swagger-ui",
}

api_v1 = [
    path("", ApiRootView.as_view(resources=API_ROOT), name="api-root"),
    path("", include("apps.core.api.urls")),
    path("auth/", include("apps.accounts.api.urls")),
    path("signers/", include("apps.signers.api.urls")),
    path("verifications/", include("apps.verifications.api.urls")),
    path("verification-batches/", include("apps.verifications.api.batch_urls")),
    path("signature-region/", SignatureRegionView.as_view(), name="signature-region"),
    path("", include("apps.modelregistry.api.urls")),  # model-versions/ (and …/promote/), promotions/
    path("", include("apps.training.api.urls")),  # training-jobs/
    path("", include("apps.mandates.api.urls")),  # accounts/, cheques/
    path("clearing-files/", include("apps.clearing.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
]
