from rest_framework.routers import SimpleRouter

from .views import ModelVersionViewSet

router = SimpleRouter()
router.register("", ModelVersionViewSet, basename="model-version")

urlpatterns = router.urls
