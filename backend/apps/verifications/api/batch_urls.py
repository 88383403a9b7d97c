from rest_framework.routers import SimpleRouter

from .batch_views import VerificationBatchViewSet

router = SimpleRouter()
router.register("", VerificationBatchViewSet, basename="verification-batch")

urlpatterns = router.urls
