"""Bank accounts, their signatories and mandates, the bank's amount policy, and the cheque decision log."""

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

# Account numbers appear in URL paths (/accounts/<number>/).
account_number_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,33}$", "Use 1 to 34 letters, digits, dots, dashes or underscores."
)
group_validator = RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,31}$", "A group name: letters, digits, - and _.")

AMOUNT = {"max_digits": 15, "decimal_places": 2}


class BankAccount(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        BLOCKED = "blocked", "Blocked"  # cheques are referred, never paid
        CLOSED = "closed", "Closed"  # cheques are referred, never paid

    number = models.CharField(max_length=34, unique=True, validators=[account_number_validator])
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    always_refer = models.BooleanField(default=False, help_text="Every cheque on this account goes to a clerk.")
    instruction = models.TextField(blank=True, help_text="Free text shown to the clerk reviewing a cheque.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["number"]
        verbose_name = "bank account"

    def __str__(self):
        return f"{self.number} ({self.name})"


class Signatory(models.Model):
    """A signer who may sign for an account, in a group (panel), with an optional limit and validity."""

    account = models.ForeignKey(BankAccount, on_delete=models.CASCADE, related_name="signatories")
    signer = models.ForeignKey("signers.Signer", on_delete=models.PROTECT, related_name="signatory_roles")
    group = models.CharField(max_length=32, default="A", validators=[group_validator])
    limit = models.DecimalField(
        **AMOUNT, null=True, blank=True, validators=[MinValueValidator(0)], help_text="Highest amount they may sign."
    )
    valid_from = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account_id", "group", "signer__external_id"]
        verbose_name_plural = "signatories"
        constraints = [
            models.UniqueConstraint(fields=["account", "signer"], name="one_signatory_role_per_account"),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gte=models.F("valid_from")),
                name="signatory_validity_ordered",
            ),
        ]

    def __str__(self):
        return f"{self.signer.external_id} for {self.account.number} (group {self.group})"


class Mandate(models.Model):
    """One version of an account's mandate; the newest row is the one in force. Rows are written by
    ``services.set_mandate`` only and never changed: together they are the audit trail (who, when,
    why, the bands before and after)."""

    account = models.ForeignKey(BankAccount, on_delete=models.CASCADE, related_name="mandates")
    bands = models.JSONField(help_text='[{"up_to": "1000.00" or null, "any_of": [[{"group": "A", "count": 1}]]}]')
    previous_bands = models.JSONField(null=True, blank=True)
    reason = models.TextField()
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        get_latest_by = ["changed_at", "id"]

    def __str__(self):
        return f"mandate {self.pk} of {self.account.number}"


class AmountRule(models.Model):
    """The bank's amount-aware policy: cheques above ``above`` are decided with a stricter accept
    target (``far_skilled``, the share of skilled forgeries that may be accepted), or all referred.
    The strictest rule whose ``above`` the amount exceeds applies. Managed in the Django admin."""

    above = models.DecimalField(**AMOUNT, unique=True, validators=[MinValueValidator(0)])
    far_skilled = models.FloatField(
        null=True,
        blank=True,
        help_text="Stricter target for accepted skilled forgeries (0.001-0.05); empty: the model's policy.",
    )
    refer_all = models.BooleanField(default=False, help_text="Refer every cheque above this amount to a clerk.")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["above"]

    def __str__(self):
        return f"above {self.above}: " + ("refer all" if self.refer_all else f"accept target {self.far_skilled}")


class ChequeDecision(models.Model):
    """One cheque decided against an account: an append-only log row (the clerk's review is another row)."""

    class Outcome(models.TextChoices):
        PAY = "pay", "Pay"
        REFER = "refer", "Refer to a clerk"
        RETURN = "return", "Return"

    account = models.ForeignKey(BankAccount, on_delete=models.PROTECT, related_name="cheque_decisions")
    mandate = models.ForeignKey(Mandate, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(**AMOUNT)
    cheque_date = models.DateField()
    cheque_reference = models.CharField(max_length=100, blank=True, db_index=True)
    image = models.FileField(upload_to="cheques/%Y/%m/%d/", max_length=300)
    image_sha256 = models.CharField(max_length=64, db_index=True)
    decision = models.CharField(max_length=8, choices=Outcome.choices, db_index=True)
    band = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Index of the mandate band applied.")
    satisfied = models.BooleanField(null=True)
    reasons = models.JSONField(default=list)
    signatures = models.JSONField(
        default=list, help_text='[{"box": [x, y, w, h], "signer", "decision", "score", "candidates": [...]}]'
    )
    thresholds = models.JSONField(default=dict, help_text="The accept/reject thresholds the matches used.")
    model_version = models.ForeignKey("modelregistry.ModelVersion", on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processing_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"cheque {self.pk} on {self.account.number}: {self.decision}"


class ChequeReview(models.Model):
    """The clerk's call on a cheque decision: pay, return, or park it for special handling."""

    class Outcome(models.TextChoices):
        PAY = "pay", "Pay"
        RETURN = "return", "Return"
        PARK = "park", "Park (special case)"

    cheque = models.ForeignKey(ChequeDecision, on_delete=models.PROTECT, related_name="reviews")
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    comment = models.TextField(blank=True)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"review of cheque {self.cheque_id}: {self.outcome}"
