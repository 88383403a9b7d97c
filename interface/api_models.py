"""What the interface reads from each API answer: one typed model per response shape.

Hand-kept against the OpenAPI schema the backend serves (``/api/v1/schema/``, drf-spectacular);
``tests/test_interface_schema.py`` generates that schema and checks that every field read here
exists in the endpoint's component with a compatible type. Fields the interface does not read
are left out (and ignored when they come). The model card is the backend's own class
(``sigverify.card.ModelCard``), so both sides read it the same way.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from sigverify.card import ModelCard
from sigverify.card import Thresholds as CardThresholds


class ApiModel(BaseModel):
    """An answer (or a part of one); ``component`` names its schema in ``components.schemas``."""

    model_config = ConfigDict(extra="ignore")
    component: ClassVar[str | None] = None


# -- accounts -------------------------------------------------------------------------------


class Token(ApiModel):
    component = "Token"
    token: str


class Me(ApiModel):
    """Who is logged in; pages are shown by ``permissions`` (``app_label.codename``), never by role."""

    component = "Me"
    id: int
    username: str
    full_name: str
    roles: list[str]
    permissions: list[str]
    is_staff: bool

    def can(self, *permissions: str) -> bool:
        return set(permissions) <= set(self.permissions)


class Health(ApiModel):
    component = "Health"
    status: str


# -- signers --------------------------------------------------------------------------------


class Signer(ApiModel):
    component = "Signer"
    id: int
    external_id: str
    full_name: str
    status: str = "active"
    reference_count: int = 0
    pending_reference_count: int = 0


class ReferenceFlag(ApiModel):
    component = "ReferenceFlag"
    code: str
    message: str
    score: float


class Reference(ApiModel):
    component = "Reference"
    id: int
    signer: int
    original_name: str
    status: str = "active"  # active (used), pending_review (flagged: waits for a person), rejected
    flag: ReferenceFlag | None = None
    source: str = "signature_card"
    source_verification_id: int | None = None


class ReferenceRejection(ApiModel):
    component = "ReferenceRejection"
    filename: str
    code: str
    message: str


class ReferenceUploadResult(ApiModel):
    component = "ReferenceUploadResult"
    accepted: list[Reference]
    flagged: list[Reference] = []
    rejected: list[ReferenceRejection]


# -- verifications --------------------------------------------------------------------------


class Distance(ApiModel):
    component = "Distance"
    reference: int
    distance: float


class Thresholds(ApiModel):
    component = "Thresholds"
    accept: float
    reject: float


class Review(ApiModel):
    component = "Review"
    final_decision: str
    comment: str = ""
    reviewer: str
    created_at: dt.datetime


class DecisionReason(ApiModel):
    component = "DecisionReason"
    code: str
    checks: list[str]
    message: str


class Verification(ApiModel):
    component = "Verification"
    id: int
    signer: int
    signer_external_id: str
    signer_name: str
    decision: str
    reason: DecisionReason | None = None
    score: float
    crop: list[int] | None = None
    distances: list[Distance]
    thresholds: Thresholds
    model_version: str
    cheque_reference: str
    requested_by: str | None
    created_at: dt.datetime
    processing_ms: int
    review: Review | None

    def closest_first(self) -> list[Distance]:
        return sorted(self.distances, key=lambda d: d.distance)


class CropBox(ApiModel):
    component = "CropBox"
    x: int
    y: int
    width: int
    height: int


class FoundSignature(ApiModel):
    component = "FoundSignature"
    box: CropBox
    confidence: float


class SignatureRegion(ApiModel):
    component = "SignatureRegion"
    crop: CropBox
    found: bool
    signatures: list[FoundSignature] = []


# -- models, promotions, training -----------------------------------------------------------


class ModelVersion(ApiModel):
    component = "ModelVersion"
    id: int
    name: str
    sha256: str
    is_active: bool
    thresholds: CardThresholds  # in force: they follow the version's operating policy, not always the card's
    input_size: list[int]
    card: ModelCard
    created_at: dt.datetime


class PolicyTargets(ApiModel):
    component = "PolicyTargets"
    far_skilled: float  # skilled forgeries that may be accepted (fraction)
    frr: float  # genuine signatures that may be rejected (fraction)


class PolicyThresholds(ApiModel):
    component = "PolicyThresholds"
    accept: float
    reject: float


class QueryCounts(ApiModel):
    component = "QueryCounts"
    genuine: int
    skilled: int
    random: int


class PolicyOutcome(ApiModel):
    """What a policy's thresholds do to one set of queries (fractions; None without such queries)."""

    component = "PolicyOutcome"
    forgeries_accepted: float | None
    random_accepted: float | None
    genuine_rejected: float | None
    referred: float | None
    queries: QueryCounts


class PolicyPreview(ApiModel):
    component = "PolicyPreview"
    policy: PolicyTargets
    thresholds: PolicyThresholds
    test: PolicyOutcome
    test_by_dataset: dict[str, PolicyOutcome]


class PolicySweepRow(ApiModel):
    component = "PolicySweepRow"
    far_skilled: float
    forgeries_accepted: float | None
    genuine_rejected: float | None
    referred: float | None


class ScoresError(ApiModel):
    component = "ScoresError"
    code: str
    message: str


class ValidationScores(ApiModel):
    component = "ValidationScores"
    available: bool
    error: ScoresError | None


class PolicyChange(ApiModel):
    component = "PolicyChange"
    id: int
    changed_by: str
    changed_at: dt.datetime
    reason: str
    old_far_skilled: float
    old_frr: float
    new_far_skilled: float
    new_frr: float
    old_thresholds: CardThresholds
    new_thresholds: CardThresholds


class PolicyState(ApiModel):
    """A version's operating policy, the thresholds in force, and what the policy does on test writers."""

    component = "PolicyState"
    model_version: int
    far_skilled: float
    frr: float
    thresholds: CardThresholds
    validation_scores: ValidationScores
    preview: PolicyPreview | None
    sweep: list[PolicySweepRow]
    changes: list[PolicyChange]


class ModelVersionBrief(ApiModel):
    component = "ModelVersionBrief"
    id: int
    name: str
    is_active: bool


class Promotion(ApiModel):
    component = "Promotion"
    id: int
    status: str
    model_version: ModelVersionBrief
    total: int
    done: int
    error: str


class TrainingJobProgress(ApiModel):
    component = "TrainingJobProgress"
    epoch: int
    epochs: int
    loss: float | None
    val_eer: float | None
    images_per_s: float | None
    heartbeat_at: dt.datetime | None


class TrainingJob(ApiModel):
    component = "TrainingJob"
    id: int
    status: str
    requested_by: str | None
    epochs: int
    loss: str
    progress: TrainingJobProgress
    cancel_requested: bool
    model_version: ModelVersionBrief | None
    error: str
    finished_at: dt.datetime | None


# -- clearing files ---------------------------------------------------------------------------


class ClearingFileItemCounts(ApiModel):
    component = "ClearingFileItemCounts"
    total: int
    decided: int
    failed: int


class ClearingFileDecisionCounts(ApiModel):
    component = "ClearingFileDecisionCounts"
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    pay: int
    refer: int
    return_: int = Field(alias="return")


class ClearingFileProgress(ApiModel):
    component = "ClearingFileProgress"
    items_read: int
    items_finished: int
    fraction: float


class ClearingFile(ApiModel):
    component = "ClearingFile"
    id: int
    status: str
    file_name: str
    encoding: str
    items: ClearingFileItemCounts
    decisions: ClearingFileDecisionCounts
    progress: ClearingFileProgress
    totals_reconciled: bool
    discrepancies: list[str]
    amount_total_cents: int
    returns_skipped: int
    credits_skipped: int
    error: str
    created_at: dt.datetime

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")


class ClearingItemFailure(ApiModel):
    component = "ClearingItemFailure"
    code: str
    reason: str


class ClearingItem(ApiModel):
    component = "ClearingItem"
    key: str
    index: int
    record_number: int
    account: str | None
    amount: str | None
    status: str
    decision: str | None
    cheque: int | None
    reasons: list[str]
    failure: ClearingItemFailure | None


# -- pages ----------------------------------------------------------------------------------

# -- bank accounts, mandates and cheques ------------------------------------------------------


class Signatory(ApiModel):
    component = "Signatory"
    id: int
    signer: str
    signer_name: str
    signer_status: str
    group: str
    limit: str | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None


class MandateWords(ApiModel):
    component = "MandateWords"
    words: list[str]


class Mandate(ApiModel):
    component = "Mandate"
    id: int
    bands: Any
    words: list[str]
    reason: str
    changed_by: str
    changed_at: dt.datetime


class Account(ApiModel):
    component = "Account"
    number: str
    name: str
    status: str = "active"
    always_refer: bool = False
    instruction: str = ""
    signatory_count: int = 0
    signatories: list[Signatory] = []
    mandate: Mandate | None = None


class Candidate(ApiModel):
    component = "Candidate"
    signer: str
    name: str
    score: float
    decision: str
    accept: float | None = None  # this signatory's accept threshold (for their number of references)
    references: list[int]


class SignatureResult(ApiModel):
    component = "SignatureResult"
    box: list[int]
    signer: str | None
    decision: str
    score: float | None
    candidates: list[Candidate]


class MandateOutcome(ApiModel):
    component = "MandateOutcome"
    band: int | None
    satisfied: bool | None
    reasons: list[str]


class ChequeThresholds(ApiModel):
    component = "ChequeThresholds"
    accept: float
    reject: float


class ChequeReview(ApiModel):
    component = "ChequeReview"
    id: int
    outcome: str
    comment: str = ""
    reviewer: str
    created_at: dt.datetime


class ChequeDecision(ApiModel):
    component = "ChequeDecision"
    id: int
    decision: str
    signatures: list[SignatureResult]
    mandate: MandateOutcome
    account: str
    account_name: str
    instruction: str
    amount: str
    cheque_date: dt.date
    cheque_reference: str
    thresholds: ChequeThresholds
    model_version: str
    requested_by: str | None
    created_at: dt.datetime
    reviews: list[ChequeReview]


Row = TypeVar("Row", bound=ApiModel)


class Page(ApiModel, Generic[Row]):
    """One page of a list (``?page=N``): every list endpoint answers this shape."""

    count: int
    next: str | None
    previous: str | None
    results: list[Row]

    @classmethod
    def component_for(cls, row: type[ApiModel]) -> str:
        return f"Paginated{row.component}List"
