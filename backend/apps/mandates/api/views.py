from django.http import Http404
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from apps.core.api.filters import UtcDateTimeFilter
from apps.core.files import stored_file_response
from apps.core.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from apps.core.images import content_type_for_name
from apps.core.permissions import ActionPermissions
from apps.mandates import selectors, services
from apps.mandates.models import BankAccount, ChequeDecision

from .serializers import (
    AccountSerializer,
    AccountUpdateSerializer,
    ChequeDecisionSerializer,
    ChequeInputSerializer,
    ChequeReviewInputSerializer,
    ChequeReviewSerializer,
    MandateInputSerializer,
    MandateSerializer,
    MandateWordsInputSerializer,
    MandateWordsSerializer,
    SignatoryInputSerializer,
    SignatorySerializer,
)

VIEW_ACCOUNT = ["mandates.view_bankaccount"]
VIEW_SIGNATORIES = VIEW_ACCOUNT + ["mandates.view_signatory"]
VIEW_CHEQUE = ["mandates.view_chequedecision"]
ACCOUNT_NUMBER = OpenApiParameter("number", OpenApiTypes.STR, OpenApiParameter.PATH, description="Account number.")


class AccountFilter(filters.FilterSet):
    signer = filters.CharFilter(
        field_name="signatories__signer__external_id", help_text="Accounts this signer signs for."
    )

    class Meta:
        model = BankAccount
        fields = ["status", "always_refer"]


@extend_schema_view(
    retrieve=extend_schema(parameters=[ACCOUNT_NUMBER]),
    partial_update=extend_schema(parameters=[ACCOUNT_NUMBER], request=AccountUpdateSerializer),
)
class AccountViewSet(
    mixins.ListModelMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Bank accounts (by number), their signatories and their mandate. Integrators and admins write,
    clerks read."""

    serializer_class = AccountSerializer
    permission_classes = [ActionPermissions]
    action_permissions = {
        "list": VIEW_ACCOUNT,
        "retrieve": VIEW_ACCOUNT,
        "create": VIEW_ACCOUNT + ["mandates.add_bankaccount"],
        "partial_update": VIEW_ACCOUNT + ["mandates.change_bankaccount"],
        "signatories": VIEW_SIGNATORIES,
        "add_signatory": VIEW_SIGNATORIES + ["mandates.add_signatory"],
        "remove_signatory": VIEW_SIGNATORIES + ["mandates.delete_signatory"],
        "mandate": VIEW_ACCOUNT + ["mandates.view_mandate"],
        "set_mandate": VIEW_ACCOUNT + ["mandates.view_mandate", "mandates.add_mandate"],
        "mandate_words": VIEW_ACCOUNT + ["mandates.view_mandate", "mandates.add_mandate"],
    }
    filterset_class = AccountFilter
    search_fields = ["number", "name"]
    ordering_fields = ["number", "name", "created_at"]
    ordering = ["number"]
    lookup_field = "number"
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return selectors.account_list()

    def get_object(self):
        account = self.get_queryset().filter(number=self.kwargs["number"]).first()
        if account is None:
            raise services.AccountNotFound(self.kwargs["number"])
        self.check_object_permissions(self.request, account)
        return account

    def _answer(self, account, code=status.HTTP_200_OK):
        return Response(self.get_serializer(self.get_queryset().get(pk=account.pk)).data, status=code)

    def create(self, request):
        data = AccountSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = services.account_create(**data.validated_data)
        return self._answer(account, status.HTTP_201_CREATED)

    def partial_update(self, request, number=None):
        account = self.get_object()
        data = AccountUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.account_update(account, **data.validated_data)
        return self._answer(account)

    @extend_schema(parameters=[ACCOUNT_NUMBER], responses=SignatorySerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def signatories(self, request, number=None):
        """The account's signatories (group, limit, validity)."""
        rows = selectors.signatory_list(self.get_object())
        return Response(SignatorySerializer(rows, many=True).data)

    @extend_schema(
        parameters=[ACCOUNT_NUMBER],
        request=SignatoryInputSerializer,
        responses={
            201: SignatorySerializer,
            400: OpenApiResponse(description="Unknown signer or bad field."),
            409: OpenApiResponse(description="Already a signatory of this account."),
        },
    )
    @signatories.mapping.post
    def add_signatory(self, request, number=None):
        """Make an enrolled signer a signatory: group, optional limit and validity dates."""
        account = self.get_object()
        data = SignatoryInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        signatory = services.signatory_add(account=account, **data.validated_data)
        return Response(SignatorySerializer(signatory).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            ACCOUNT_NUMBER,
            OpenApiParameter("signer", OpenApiTypes.STR, OpenApiParameter.PATH, description="Signer external id."),
        ],
        responses={204: None},
    )
    @action(detail=True, methods=["delete"], url_path=r"signatories/(?P<signer>[^/]+)")
    def remove_signatory(self, request, number=None, signer=None):
        """Remove a signatory (by the signer's external id)."""
        account = self.get_object()
        signatory = selectors.signatory_list(account).filter(signer__external_id=signer).first()
        if signatory is None:
            raise Http404(f"{signer!r} is not a signatory of {account.number}.")
        services.signatory_remove(signatory)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[ACCOUNT_NUMBER],
        responses={200: MandateSerializer(many=True)},
        description="The mandate in force first, then its earlier versions (the audit trail).",
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def mandate(self, request, number=None):
        history = selectors.mandate_history(self.get_object())[:50]
        return Response(MandateSerializer(history, many=True).data)

    @extend_schema(
        parameters=[ACCOUNT_NUMBER],
        request=MandateInputSerializer,
        responses={200: MandateSerializer, 400: OpenApiResponse(description="A field error per problem.")},
    )
    @mandate.mapping.put
    def set_mandate(self, request, number=None):
        """Replace the mandate (audited: who, when, why, before and after)."""
        account = self.get_object()
        data = MandateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        mandate = services.set_mandate(account=account, user=request.user, **data.validated_data)
        return Response(MandateSerializer(mandate).data)

    @extend_schema(
        parameters=[ACCOUNT_NUMBER],
        request=MandateWordsInputSerializer,
        responses={200: MandateWordsSerializer, 400: OpenApiResponse(description="A field error per problem.")},
    )
    @action(detail=True, methods=["post"], url_path="mandate/words")
    def mandate_words(self, request, number=None):
        """Bands in words before they are set (the mandate editor's preview): checked as setting them
        would check them, nothing stored."""
        account = self.get_object()
        data = MandateWordsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        words = selectors.mandate_words(account, data.validated_data["bands"])
        return Response(MandateWordsSerializer({"words": words}).data)


class ChequeFilter(filters.FilterSet):
    account = filters.CharFilter(field_name="account__number")
    decision = filters.ChoiceFilter(choices=ChequeDecision.Outcome.choices)
    cheque_reference = filters.CharFilter()
    reviewed = filters.BooleanFilter(field_name="reviews", lookup_expr="isnull", exclude=True, distinct=True)
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = ChequeDecision
        fields = ["account", "decision", "cheque_reference"]


class ChequeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Cheques decided against an account (pay / refer / return), their log and the clerk's review."""

    serializer_class = ChequeDecisionSerializer
    permission_classes = [ActionPermissions]
    action_permissions = {
        "list": VIEW_CHEQUE,
        "retrieve": VIEW_CHEQUE,
        "image": VIEW_CHEQUE,
        "create": ["mandates.add_chequedecision"],
        "review": VIEW_CHEQUE + ["mandates.add_chequereview"],
    }
    filterset_class = ChequeFilter
    search_fields = ["account__number", "cheque_reference"]
    ordering_fields = ["created_at", "amount", "decision"]
    ordering = ["-created_at", "-id"]
    throttle_scope = "verify"

    def get_queryset(self):
        return selectors.cheque_decision_list()

    def get_throttles(self):
        if getattr(self, "action", None) == "create":
            return [ScopedRateThrottle()]
        return super().get_throttles()

    def get_parsers(self):
        return [MultiPartParser(), FormParser()] if getattr(self, "action", None) == "create" else super().get_parsers()

    @extend_schema(
        request={"multipart/form-data": ChequeInputSerializer},
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: ChequeDecisionSerializer,
            400: OpenApiResponse(description="A bad field (named) or an image that cannot be used."),
            404: OpenApiResponse(description="No such account."),
            422: OpenApiResponse(description="The Idempotency-Key was used for a different request."),
            503: OpenApiResponse(description="No model is active or it cannot be loaded."),
        },
    )
    def create(self, request):
        """Decide a cheque against an account: every signature found, identified among the account's
        signatories valid on the cheque date, the mandate band for the amount evaluated."""
        return idempotent(request, lambda: self._decide(request))

    def _decide(self, request):
        data = ChequeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        cheque = services.cheque_decide(
            account_number=values["account"],
            amount=values["amount"],
            image=values["image"],
            cheque_date=values.get("cheque_date"),
            cheque_reference=values.get("cheque_reference", ""),
            requested_by=request.user,
        )
        cheque = self.get_queryset().get(pk=cheque.pk)
        return Response(self.get_serializer(cheque).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ChequeReviewInputSerializer,
        responses={201: ChequeReviewSerializer, 409: OpenApiResponse(description="Already reviewed.")},
    )
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        """The clerk's call: pay, return or park (a comment is needed to park, or to pay what would be returned)."""
        cheque = self.get_object()
        data = ChequeReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        review = services.record_cheque_review(cheque=cheque, reviewer=request.user, **data.validated_data)
        return Response(ChequeReviewSerializer(review).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The cheque.")})
    @action(detail=True, methods=["get"])
    def image(self, request, pk=None):
        name = self.get_object().image.name
        return stored_file_response(name, content_type_for_name(name))
