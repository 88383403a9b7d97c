from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import PromoteModelVersionView, PromotionViewSet, TrainingJobViewSet

router = SimpleRouter()
router.register("training-jobs", TrainingJobViewSet, basename="training-job")
router.register("promotions", PromotionViewSet, basename="promotion")

urlpatterns = [
    path("model-versions/<int:pk>/promote/", PromoteModelVersionView.as_view(), name="model-version-promote"),
    *router.urls,
]
