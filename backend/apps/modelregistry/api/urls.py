from rest_framework.routers import SimpleRouter

from .views import ModelVersionViewSet, PromotionViewSet

router = SimpleRouter()
router.register("model-versions", ModelVersionViewSet, basename="model-version")
router.register("promotions", PromotionViewSet, basename="promotion")

urlpatterns = router.urls
