from rest_framework.routers import SimpleRouter

from .views import VerificationViewSet

router = SimpleRouter()
router.register("", VerificationViewSet, basename="verification")

urlpatterns = router.urls
