"""Accounts, signatories and mandates (audited), and deciding a cheque against an account.

``cheque_decide`` is the one entry point for a cheque, from the API and from clearing runs alike.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image

from apps.core.exceptions import Conflict, InvalidImage, InvalidRequest, NotFound, ServiceError
from apps.core.files import save_with_file
from apps.core.images import (
    decode_bytes,
    preprocess_decoded,
    read_upload,
    sha256_bytes,
    sniff_image_type,
)
from apps.modelregistry.selectors import get_active_version, validation_scores
from apps.modelregistry.serving import require_verifier, thresholds_in_force
from apps.signers.classifiers import classifier_for, scoring_used
from apps.signers.models import Signer
from apps.signers.scoring import cheque_forgery_decides, score_against
from apps.signers.selectors import find_signer, reference_embeddings
from sigverify.policy import Policy, thresholds_for
from sigverify.scoring import decide
from sigverify.signature_finder import LOW_CONFIDENCE, find_signatures

from . import rules
from .models import AmountRule, BankAccount, ChequeDecision, ChequeReview, Mandate, Signatory
from .selectors import current_mandate, group_sizes, signatory_facts

logger = logging.getLogger(__name__)

MAX_SIGNATURES = 6  # boxes looked for on one cheque
BOX_MARGIN = 0.15  # of the box's height, added on every side of a found signature


class AccountNotFound(NotFound):
    default_code = "account_not_found"

    def __init__(self, number):
        super().__init__(f"No account with number {number!r}.")


def _invalid(field: str, message: str) -> InvalidRequest:
    return InvalidRequest({field: message})


def get_account(number) -> BankAccount:
    account = BankAccount.objects.filter(number=str(number).strip()).first()
    if account is None:
        raise AccountNotFound(number)
    return account


def _full_clean(instance, exclude=None) -> None:
    try:
        instance.full_clean(exclude=exclude)
    except DjangoValidationError as exc:
        fields = exc.message_dict
        first = next(iter(fields.items()))
        raise ServiceError(f"{first[0]}: {first[1][0]}", code="validation_error", fields=fields) from exc


# --- accounts and signatories -------------------------------------------------------------------


def account_create(*, number: str, name: str, **extra) -> BankAccount:
    account = BankAccount(number=(number or "").strip(), name=(name or "").strip(), **extra)
    if BankAccount.objects.filter(number=account.number).exists():
        raise Conflict(f"An account with number {account.number!r} exists.", code="account_exists")
    _full_clean(account)
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError as exc:
        raise Conflict(f"An account with number {account.number!r} exists.", code="account_exists") from exc
    return account


ACCOUNT_CHANGEABLE = ("name", "status", "always_refer", "instruction")


def account_update(account: BankAccount, **changes) -> BankAccount:
    unknown = set(changes) - set(ACCOUNT_CHANGEABLE)
    if unknown:
        raise _invalid(sorted(unknown)[0], "cannot be changed (the number is the account's key)")
    for name, value in changes.items():
        setattr(account, name, value.strip() if isinstance(value, str) and name == "name" else value)
    _full_clean(account)
    account.save()
    return account


def signatory_add(
    *, account: BankAccount, signer: str, group: str = "A", limit=None, valid_from=None, valid_until=None
) -> Signatory:
    """Make the signer (external id or id) a signatory of ``account``. One role per signer and account."""
    found = find_signer(signer) if signer not in (None, "") else None
    if found is None:
        raise ServiceError(
            f"signer: no signer with id or external id {signer!r}.",
            code="validation_error",
            fields={"signer": [f"No signer with id or external id {signer!r}; enroll the signer first."]},
        )
    if valid_from and valid_until and valid_until < valid_from:
        raise _invalid("valid_until", "must not be before valid_from")
    if limit is not None:
        limit = Decimal(str(limit))
        if limit <= 0:
            raise _invalid("limit", "must be greater than 0 (or null for no limit)")
    signatory = Signatory(
        account=account,
        signer=found,
        group=(group or "").strip(),
        limit=limit,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    if Signatory.objects.filter(account=account, signer=found).exists():
        raise Conflict(
            f"{found.external_id} is already a signatory of {account.number}; remove them first to change the role.",
            code="signatory_exists",
        )
    _full_clean(signatory, exclude=["account", "signer"])
    try:
        with transaction.atomic():
            signatory.save()
    except IntegrityError as exc:
        raise Conflict(
            f"{found.external_id} is already a signatory of {account.number}.", code="signatory_exists"
        ) from exc
    return signatory


def signatory_remove(signatory: Signatory) -> None:
    """Remove a signatory. A mandate that needed them then cannot be met: cheques are referred, with
    the reason ("needs 2 of group A, found 1"); update the mandate too."""
    signatory.delete()


# --- mandates (audited) ---------------------------------------------------------------------------


@transaction.atomic
def set_mandate(*, account: BankAccount, bands, reason: str, user) -> Mandate:
    """Replace the account's mandate. Checked against the account's groups now (``ServiceError``
    with a field per problem: ``bands[1].up_to``, ``bands[0].any_of[0][0].group``...). Every change is
    a new ``Mandate`` row keeping who, when, why and the bands before and after."""
    locked = BankAccount.objects.select_for_update().get(pk=account.pk)
    parsed, errors = rules.parse_mandate(bands, group_sizes(locked))
    if not (reason or "").strip():
        errors["reason"] = ["A reason is required: it is kept in the audit trail."]
    if errors:
        field, messages = next(iter(errors.items()))
        raise ServiceError(f"{field}: {messages[0]}", code="validation_error", fields=errors)
    previous = current_mandate(locked)
    return Mandate.objects.create(
        account=locked,
        bands=[band.to_dict() for band in parsed],
        previous_bands=previous.bands if previous else None,
        reason=reason.strip(),
        changed_by=user,
    )


# --- the bank's amount policy ---------------------------------------------------------------------


def amount_rule_for(amount: Decimal) -> AmountRule | None:
    """The strictest rule whose ``above`` the amount exceeds (the highest such ``above``)."""
    return AmountRule.objects.filter(above__lt=amount).order_by("-above").first()


_stricter_cache: dict[tuple[int, str, float], float] = {}


def _stricter_accept(version, far_skilled: float) -> float:
    """The accept threshold holding ``far_skilled`` on the version's validation writers (cached)."""
    key = (version.pk, version.sha256, float(far_skilled))
    if key not in _stricter_cache:
        scores = validation_scores(version)  # Conflict when the version has none
        _stricter_cache[key] = float(
            thresholds_for(scores, Policy(far_skilled=far_skilled, frr=version.policy_frr))["accept"]
        )
    return _stricter_cache[key]


def thresholds_for_amount(version, amount: Decimal) -> tuple[dict, list[str]]:
    """(thresholds, refer reasons) for a cheque of ``amount``: the version's operating policy, made
    stricter (never looser) by the bank's ``AmountRule``s."""
    thresholds = dict(thresholds_in_force(version))
    rule = amount_rule_for(amount)
    if rule is None:
        return thresholds, []
    reasons = []
    if rule.refer_all:
        reasons.append(f"the bank refers every cheque above {rules.format_amount(rule.above)}")
    if rule.far_skilled is not None:
        try:
            stricter = _stricter_accept(version, rule.far_skilled)
        except (Conflict, ValueError) as exc:
            reasons.append(
                f"cheques above {rules.format_amount(rule.above)} need a stricter threshold "
                f"the active model cannot compute ({getattr(exc, 'message', exc)})"
            )
        else:
            if stricter > thresholds["accept"]:
                thresholds["accept"] = stricter
            thresholds["stricter_accept"] = stricter  # holds for every R (see _score_boxes)
            thresholds["amount_rule_above"] = str(rule.above)
            thresholds["accept_far_skilled"] = rule.far_skilled
    return thresholds, reasons


# --- finding signatures --------------------------------------------------------------------------


def find_signature_boxes(
    picture: Image.Image, limit: int = MAX_SIGNATURES
) -> list[tuple[tuple[int, int, int, int], float]]:
    """Every signature on a decoded cheque as (x, y, width, height) and the finder's confidence,
    left to right (``sigverify.signature_finder``, the learned finder of ink components). None
    found is an answer too: the cheque is referred ("no signature found"), never judged on
    whatever ink a layout rule would pick."""
    found = find_signatures(picture)
    kept = sorted(found, key=lambda f: -f.confidence)[:limit]
    boxes = [(_padded(f.box, picture.size), float(f.confidence)) for f in kept]
    return sorted(boxes, key=lambda item: item[0])


def _padded(box, size, share: float = BOX_MARGIN) -> tuple[int, int, int, int]:
    """The box grown on every side: the finder works at a reduced size and can clip a stroke's end,
    and preprocessing finds the ink inside the crop anyway."""
    x, y, w, h = (int(v) for v in box)
    margin = max(4, int(share * h))
    left, top = max(0, x - margin), max(0, y - margin)
    right, bottom = min(size[0], x + w + margin), min(size[1], y + h + margin)
    return left, top, max(1, right - left), max(1, bottom - top)


# --- a cheque's image work ------------------------------------------------------------------------


@dataclass
class ChequeImage:
    """What a cheque's image gives before any database read: the signatures found and each one's
    preprocessed array (or why it cannot be judged). Pure image work, so a clearing run makes the next
    cheques' on a thread pool while it decides the current one (``cheque_decide(prepared=...)``)."""

    data: bytes
    input_size: tuple
    found: list = field(default_factory=list)  # [(padded box, finder confidence)], left to right
    arrays: list = field(default_factory=list)  # per box: the preprocessed array, or None
    problems: list = field(default_factory=list)  # per box: why it cannot be judged, or None
    error: BaseException | None = None  # raised by cheque_decide where the image is first needed


def cheque_image_prepare(data: bytes, input_size) -> ChequeImage:
    """Decode, find the signatures and preprocess each box. Never raises: an image that cannot be
    used keeps its error, raised by ``cheque_decide`` after the account checks, as without this step."""
    prepared = ChequeImage(bytes(data), tuple(input_size))
    try:
        if not prepared.data:
            raise InvalidImage("The image is empty.", code="empty_file")
        image = decode_bytes(prepared.data)  # once for the search and every box
        prepared.found = find_signature_boxes(image)
        for box, _ in prepared.found:
            try:
                array, _quality = preprocess_decoded(image, prepared.input_size, crop=list(box))
            except InvalidImage as exc:
                array, problem = None, exc.message
            else:
                problem = None
            prepared.arrays.append(array)
            prepared.problems.append(problem)
    except Exception as exc:  # an unusable image, or a bug: the item's own failure, as in cheque_decide
        prepared.error = exc
    return prepared


# --- deciding a cheque --------------------------------------------------------------------------


@dataclass
class _Scored:
    box: tuple[int, int, int, int]
    candidates: list[dict]  # per signatory, best first: {"signer", "name", "score", "decision", "references"}
    problem: str | None  # why this box could not be judged
    confidence: float | None = None  # the finder's


def _to_amount(amount, amount_cents) -> Decimal:
    if (amount is None) == (amount_cents is None):
        raise _invalid("amount", "give the amount (or amount_cents for clearing items), not both")
    if amount_cents is not None:
        if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents <= 0:
            raise _invalid("amount", "amount_cents must be a positive whole number")
        amount = Decimal(amount_cents) / 100
    try:
        return rules.parse_amount(amount)
    except ValueError as exc:
        raise _invalid("amount", f"amount {exc}") from exc


def cheque_decide(
    *,
    account_number: str,
    image,
    amount=None,
    amount_cents: int | None = None,
    cheque_date: date | None = None,
    cheque_reference: str = "",
    requested_by=None,
    version=None,
    prepared: ChequeImage | None = None,
) -> ChequeDecision:
    """Decide whether a cheque may be paid from an account, and log it (``ChequeDecision``).

    ``image``: the whole cheque's front (bytes, or an uploaded file), any format a verification takes.
    ``amount``: a Decimal/str such as ``"1250.00"``, or ``amount_cents`` (an int, as record 25 of an
    X9.37 file carries it) - exactly one. ``cheque_date``: the date written on the cheque (signatories
    are checked against it; default today). ``requested_by``: a user or None (a clearing run).
    ``version``: the active model version when the caller has it already (a clearing run reads it once
    per chunk of cheques, its parsed card with it); None: read now. ``prepared``: the image's work done
    ahead (``cheque_image_prepare`` of these bytes at this version's input size); None: done here.

    Every signature on the cheque is found and embedded once, then scored against the references of
    every signatory of the account; the account's mandate band for the amount and the signatories'
    validity and limits decide ``pay`` / ``refer`` / ``return`` (``rules.decide_cheque``).

    Raises ``AccountNotFound`` (404, ``account_not_found``) for an unknown account, ``ServiceError``
    (400, field ``amount``) for a bad amount, ``InvalidImage`` (400) for bytes that are no usable
    image, ``ServiceUnavailable`` (503) when no model can serve. Nothing is stored when it raises.
    """
    started = time.perf_counter()
    account = get_account(account_number)
    value = _to_amount(amount, amount_cents)
    on = cheque_date or timezone.localdate()
    version = version or get_active_version()
    verifier = require_verifier(version)
    data = image if isinstance(image, (bytes, bytearray)) else read_upload(image)
    if prepared is None or prepared.input_size != tuple(version.input_size):
        prepared = cheque_image_prepare(data, version.input_size)
    if prepared.error is not None:
        raise prepared.error
    data = prepared.data

    thresholds, refer_reasons = thresholds_for_amount(version, value)  # each signatory's R may refine them
    if account.status != BankAccount.Status.ACTIVE:
        refer_reasons.insert(0, f"account is {account.status}")
    signatories = list(
        Signatory.objects.filter(account=account).select_related("signer").order_by("group", "signer__external_id")
    )
    references = {}
    unscored = []
    for signatory in signatories:
        ids, matrix = reference_embeddings(signatory.signer, version)
        if ids and signatory.signer.status == Signer.Status.ACTIVE:
            references[signatory.signer.external_id] = (ids, matrix)
        else:
            unscored.append(signatory.signer.external_id)

    found = prepared.found
    scored = _score_boxes(prepared, version, verifier, signatories, references, thresholds)
    for item, (_, confidence) in zip(scored, found, strict=True):
        item.confidence = confidence
        accepted = any(candidate["decision"] == rules.GENUINE for candidate in item.candidates)
        if confidence < LOW_CONFIDENCE and item.problem is None and not accepted:
            # Doubtful ink never decides a cheque alone; a signatory's references accepting it
            # settle that it is a signature (a forgery or a stranger there is referred, not returned).
            item.problem = f"it may not be a signature (finder confidence {confidence:.2f}) and no signatory accepts it"
    matches = [
        rules.Match(index, candidate["signer"], candidate["decision"], candidate["score"])
        for index, item in enumerate(scored)
        for candidate in item.candidates
    ]
    for index, item in enumerate(scored):
        if item.problem:
            refer_reasons.append(f"signature {index + 1} cannot be judged: {item.problem}")
    mandate = current_mandate(account)
    outcome = rules.decide_cheque(
        bands=rules.bands_from_dicts(mandate.bands) if mandate else None,
        signatories=signatory_facts(signatories),
        matches=matches,
        signature_count=len(scored),
        amount=value,
        on=on,
        always_refer=account.always_refer,
        refer_reasons=refer_reasons,
        unscored=unscored,
        # at the clean-crop points a crop found on a whole cheque is decided forgery for some genuine
        # signatures (issue 19): a person returns the cheque, unless the version's cheque pair decided
        # (or the bank lets the model's call decide)
        forgery_returns=cheque_forgery_decides(version),
    )
    signatures = [
        {
            "box": list(item.box),
            "signer": result.signatory,
            "decision": result.decision,
            "score": None if result.score is None else round(float(result.score), 6),
            "finder_confidence": None if item.confidence is None else round(item.confidence, 3),
            "scoring": _scoring_of(item, result.signatory),
            "candidates": item.candidates,
        }
        for item, result in zip(scored, outcome.signatures, strict=True)
    ]
    return _store_decision(
        data,
        account=account,
        mandate=mandate,
        amount=value,
        cheque_date=on,
        cheque_reference=(cheque_reference or "").strip()[:100],
        outcome=outcome,
        signatures=signatures,
        thresholds=thresholds,
        version=version,
        requested_by=requested_by if (requested_by is not None and requested_by.is_authenticated) else None,
        started=started,
    )


def _score_boxes(prepared: ChequeImage, version, verifier, signatories, references, thresholds) -> list[_Scored]:
    """Each box embedded once, scored against every scorable signatory's references by the scoring a
    verification uses (``signers.scoring.score_against``, with the signatory's own classifier where
    the version fuses one), never looser than the bank's amount rule."""
    arrays, kept, scored = [], [], []
    for (box, _), array, problem in zip(prepared.found, prepared.arrays, prepared.problems, strict=True):
        if array is None:
            scored.append(_Scored(box, [], problem))
            continue
        arrays.append(array)
        kept.append(len(scored))
        scored.append(_Scored(box, [], None))
    embeddings = verifier.embed_arrays(arrays) if arrays else []
    signers = {s.signer.external_id: s.signer for s in signatories}
    classifiers = {key: classifier_for(signers[key], version, ids) for key, (ids, _) in references.items()}
    for index, embedding in zip(kept, embeddings, strict=True):
        candidates = []
        for key, (ids, matrix) in references.items():
            result = score_against(version, verifier, embedding, matrix, classifiers[key], cheque=True)
            distances = sorted(zip(ids, result.distances, strict=True), key=lambda pair: pair[1])
            # the pair fitted for this signatory's number of references, never looser than the amount rule
            accept = max(result.thresholds["accept"], thresholds.get("stricter_accept") or 0.0)
            reject = min(result.thresholds["reject"], accept)
            candidates.append(
                {
                    "signer": key,
                    "name": signers[key].full_name,
                    "score": round(result.score, 6),
                    "decision": decide(result.score, accept, reject),
                    "accept": accept,
                    "reject": reject,
                    "reference_count": result.references,
                    "scoring": scoring_used(version, classifiers[key], result.fused),
                    "references": [ref_id for ref_id, _ in distances],  # most similar first
                }
            )
        scored[index].candidates = sorted(candidates, key=lambda c: (-c["score"], c["signer"]))
    return scored


def _scoring_of(item: _Scored, signer: str | None) -> str | None:
    """How the signature's match was scored (``classifiers.scoring_used``); None when it matched no one."""
    return next((c["scoring"] for c in item.candidates if c["signer"] == signer), None)


def _store_decision(data, *, started, **fields) -> ChequeDecision:
    outcome = fields.pop("outcome")
    digest = sha256_bytes(data)
    _, extension = sniff_image_type(data)
    row = ChequeDecision(
        account=fields["account"],
        mandate=fields["mandate"],
        amount=fields["amount"],
        cheque_date=fields["cheque_date"],
        cheque_reference=fields["cheque_reference"],
        image_sha256=digest,
        decision=outcome.decision,
        band=outcome.band,
        satisfied=outcome.satisfied,
        reasons=outcome.reasons,
        signatures=fields["signatures"],
        thresholds=fields["thresholds"],
        model_version=fields["version"],
        requested_by=fields["requested_by"],
    )
    save_with_file(row, "image", f"{digest}.{extension}", data, started=started)
    return row


# --- the clerk's review ---------------------------------------------------------------------------


def record_cheque_review(*, cheque: ChequeDecision, reviewer, outcome: str, comment: str = "") -> ChequeReview:
    """The clerk's call: pay, return, or park for special handling. A parked cheque may be reviewed
    again; a paid or returned one is final. Paying what the system would return, or parking, needs a
    comment saying why."""
    if outcome not in ChequeReview.Outcome.values:
        raise _invalid("outcome", "choose pay, return or park")
    last = cheque.reviews.order_by("-created_at", "-id").first()
    if last is not None and last.outcome != ChequeReview.Outcome.PARK:
        raise Conflict(f"This cheque was already reviewed: {last.outcome}.", code="already_reviewed")
    needs_comment = outcome == ChequeReview.Outcome.PARK or (
        outcome == ChequeReview.Outcome.PAY and cheque.decision == ChequeDecision.Outcome.RETURN
    )
    if needs_comment and not (comment or "").strip():
        raise _invalid("comment", "a comment is required to park a cheque or to pay one the system would return")
    return ChequeReview.objects.create(
        cheque=cheque, outcome=outcome, comment=(comment or "").strip(), reviewer=reviewer
    )
