from rest_framework.routers import SimpleRouter

from .views import TrainingJobViewSet

router = SimpleRouter()
router.register("training-jobs", TrainingJobViewSet, basename="training-job")

urlpatterns = router.urls
