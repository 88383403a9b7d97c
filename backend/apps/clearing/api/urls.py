from rest_framework.routers import SimpleRouter

from .views import ClearingFileViewSet

router = SimpleRouter()
router.register("", ClearingFileViewSet, basename="clearing-file")

urlpatterns = router.urls
