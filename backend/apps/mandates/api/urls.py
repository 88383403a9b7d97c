from rest_framework.routers import SimpleRouter

from .views import AccountViewSet, ChequeViewSet

router = SimpleRouter()
router.register("accounts", AccountViewSet, basename="account")
router.register("cheques", ChequeViewSet, basename="cheque")

urlpatterns = router.urls
