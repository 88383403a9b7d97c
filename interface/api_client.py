"""The one way the interface talks to the SigVerify REST API.

Plain ``requests``, a timeout on every call, and typed errors that carry the API's own
message (``{"error": {"code", "message", "fields"}}``) so pages can show it in plain words.
Every JSON answer is read into the typed model ``RESPONSES`` names for its endpoint
(``api_models.py``, checked against the backend's OpenAPI schema by the tests); an answer
that does not fit is a ``ServerUnavailable`` ("bad_response"), never a half-read dict.
The client holds no global state: each Streamlit session builds its own with its own token.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from pydantic import ValidationError as ModelMismatch

from api_models import (
    Account,
    ApiModel,
    ChequeDecision,
    ChequeReview,
    ClearingFile,
    ClearingItem,
    Health,
    Mandate,
    MandateWords,
    Me,
    ModelVersion,
    Page,
    PolicyPreview,
    PolicyState,
    Promotion,
    Reference,
    ReferenceUploadResult,
    Review,
    Signatory,
    SignatureRegion,
    Signer,
    Token,
    TrainingJob,
    Verification,
)

log = logging.getLogger("sigverify.interface")

DEFAULT_BASE_URL = "http://127.0.0.1:8000/api/v1"
# Seconds; SIGVERIFY_API_TIMEOUT / SIGVERIFY_API_UPLOAD_TIMEOUT override them.
DEFAULT_TIMEOUT = float(os.environ.get("SIGVERIFY_API_TIMEOUT", "15"))
# Verification and enrolment run the model on the server: give them longer.
UPLOAD_TIMEOUT = float(os.environ.get("SIGVERIFY_API_UPLOAD_TIMEOUT", "60"))


def base_url_from_env() -> str:
    return os.environ.get("SIGVERIFY_API_URL", DEFAULT_BASE_URL).rstrip("/")


@dataclass
class ApiError(Exception):
    """An API call failed. ``message`` is meant for a person to read."""

    status: int | None
    code: str
    message: str
    fields: dict[str, Any] = field(default_factory=dict)
    body: Any = field(default=None, repr=False)  # the parsed JSON answer, when there was one

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def field_messages(self) -> list[str]:
        """Per-field problems as short sentences, e.g. 'external_id: already exists'."""
        lines = []
        for name, problems in (self.fields or {}).items():
            if isinstance(problems, (list, tuple)):
                text = "; ".join(str(p) for p in problems)
            elif isinstance(problems, dict):
                text = "; ".join(f"{k}: {v}" for k, v in problems.items())
            else:
                text = str(problems)
            lines.append(f"{name}: {text}")
        return lines


class ValidationError(ApiError):
    """400: the request was refused because of what was sent."""


class AuthError(ApiError):
    """401 or 403: not logged in, token revoked, or the role does not allow it."""

    @property
    def is_forbidden(self) -> bool:
        return self.status == 403


class NotFound(ApiError):
    """404."""


class Conflict(ApiError):
    """409: e.g. a signer with no references, or a suspended signer."""


class PayloadTooLarge(ApiError):
    """413: the upload is bigger than the server accepts."""


class RateLimited(ApiError):
    """429: too many requests; try again shortly."""


class ServerUnavailable(ApiError):
    """No answer (connection refused, timeout) or a 5xx."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: ValidationError,
    401: AuthError,
    403: AuthError,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: ValidationError,
    429: RateLimited,
}

_DEFAULT_MESSAGES = {
    400: "The request was not accepted.",
    401: "Please log in again.",
    403: "Your role does not allow this.",
    404: "Not found.",
    409: "This cannot be done in the current state.",
    413: "The file is too large.",
    429: "Too many requests. Please wait a moment and try again.",
}


def error_from_response(response: requests.Response) -> ApiError:
    status = response.status_code
    code, message, fields = f"http_{status}", "", {}
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            code = str(error.get("code") or code)
            message = str(error.get("message") or "")
            fields = error.get("fields") or {}
        elif "detail" in body:  # plain DRF shape, in case a view slips past the handler
            message = str(body["detail"])
    if status >= 500:
        cls = ServerUnavailable
        message = message or "The verification service had an internal problem. Please try again later."
    else:
        cls = _BY_STATUS.get(status, ApiError)
        message = message or _DEFAULT_MESSAGES.get(status, f"The service answered with status {status}.")
    return cls(status=status, code=code, message=message, fields=fields if isinstance(fields, dict) else {}, body=body)


# A file to upload: (filename, bytes, content type).
Upload = tuple[str, bytes, str]

# (method, path template as in the OpenAPI schema, under /api/v1/) -> the model its success answer
# is read into. The client calls endpoints only through this table, and the schema test checks it.
RESPONSES: dict[tuple[str, str], type[ApiModel]] = {
    ("POST", "auth/token/"): Token,
    ("GET", "auth/me/"): Me,
    ("GET", "health/"): Health,
    ("GET", "signers/"): Page[Signer],
    ("POST", "signers/"): Signer,
    ("GET", "signers/{id}/"): Signer,
    ("PATCH", "signers/{id}/"): Signer,
    ("GET", "signers/{signer_key}/references/"): Page[Reference],
    ("POST", "signers/{signer_key}/references/"): ReferenceUploadResult,
    ("POST", "signers/{signer_key}/references/{id}/accept/"): Reference,
    ("POST", "signers/{signer_key}/references/{id}/reject/"): Reference,
    ("POST", "verifications/"): Verification,
    ("GET", "verifications/"): Page[Verification],
    ("GET", "verifications/{id}/"): Verification,
    ("POST", "signature-region/"): SignatureRegion,
    ("POST", "verifications/{id}/review/"): Review,
    ("GET", "model-versions/"): Page[ModelVersion],
    ("GET", "model-versions/{id}/"): ModelVersion,
    ("POST", "model-versions/{id}/promote/"): Promotion,
    ("GET", "model-versions/{id}/policy/"): PolicyState,
    ("PUT", "model-versions/{id}/policy/"): PolicyState,
    ("GET", "model-versions/{id}/policy/preview/"): PolicyPreview,
    ("GET", "promotions/"): Page[Promotion],
    ("GET", "promotions/{id}/"): Promotion,
    ("GET", "training-jobs/"): Page[TrainingJob],
    ("POST", "training-jobs/"): TrainingJob,
    ("GET", "training-jobs/{id}/"): TrainingJob,
    ("POST", "training-jobs/{id}/cancel/"): TrainingJob,
    ("GET", "accounts/"): Page[Account],
    ("POST", "accounts/"): Account,
    ("GET", "accounts/{number}/"): Account,
    ("PATCH", "accounts/{number}/"): Account,
    ("POST", "accounts/{number}/signatories/"): Signatory,
    ("PUT", "accounts/{number}/mandate/"): Mandate,
    ("POST", "accounts/{number}/mandate/words/"): MandateWords,
    ("POST", "cheques/"): ChequeDecision,
    ("GET", "cheques/"): Page[ChequeDecision],
    ("GET", "cheques/{id}/"): ChequeDecision,
    ("POST", "cheques/{id}/review/"): ChequeReview,
    ("GET", "clearing-files/"): Page[ClearingFile],
    ("POST", "clearing-files/"): ClearingFile,
    ("GET", "clearing-files/{id}/"): ClearingFile,
    ("GET", "clearing-files/{id}/items/"): Page[ClearingItem],
}

Model = TypeVar("Model", bound=ApiModel)


def _key(value: str | int) -> str:
    """A signer id or external id as one URL path segment."""
    return quote(str(value), safe="")


def _clean(params: dict[str, Any] | None) -> dict[str, Any]:
    """Drop empty filters so that '' and None never reach the query string."""
    return {k: v for k, v in (params or {}).items() if v not in (None, "", [], ())}


class ApiClient:
    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        upload_timeout: float = UPLOAD_TIMEOUT,
        session: requests.Session | None = None,
    ):
        self.base_url = (base_url or base_url_from_env()).rstrip("/")
        self.token = token
        self.timeout = timeout
        self.upload_timeout = upload_timeout
        self._session = session or requests.Session()

    # -- plumbing ---------------------------------------------------------------------------

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params=None,
        json=None,
        data=None,
        files=None,
        timeout: float | None = None,
        accept: str = "application/json",
    ) -> requests.Response:
        headers = {"Accept": accept}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        try:
            response = self._session.request(
                method,
                self.url(path),
                params=_clean(params),
                json=json,
                data=data,
                files=files,
                headers=headers,
                timeout=timeout or self.timeout,
            )
        except requests.Timeout:
            raise ServerUnavailable(
                status=None,
                code="timeout",
                message="The verification service did not answer in time. Please try again.",
            ) from None
        except requests.ConnectionError:
            raise ServerUnavailable(
                status=None,
                code="unreachable",
                message="The verification service cannot be reached. It may be down; "
                "please try again in a moment or call support.",
            ) from None
        except requests.RequestException as exc:
            raise ServerUnavailable(status=None, code="request_failed", message=f"The request failed: {exc}") from exc
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def _json(self, method: str, path: str, **kwargs) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ServerUnavailable(
                status=response.status_code,
                code="bad_response",
                message="The service sent an answer the interface could not read.",
            ) from None

    def _read(self, method: str, template: str, path_args: dict[str, Any] | None = None, **kwargs) -> Any:
        """Call ``template`` (filled with ``path_args``) and read the answer into its model."""
        model = RESPONSES[(method, template)]
        path = template.format(**{k: _key(v) for k, v in (path_args or {}).items()})
        return _parse(model, self._json(method, path, **kwargs), f"{method} {template}")

    def _bytes(self, path: str) -> bytes:
        return self.request("GET", path, accept="image/png, image/*;q=0.9, */*;q=0.5").content

    def iter_pages(
        self,
        template: str,
        params: dict[str, Any] | None = None,
        limit: int = 5000,
        path_args: dict[str, Any] | None = None,
    ) -> Iterator[ApiModel]:
        """Every row of a paginated list, each page fetched once, following ``next``; at most ``limit``."""
        model = RESPONSES[("GET", template)]
        page = self._read("GET", template, path_args, params=params)
        seen = 0
        while True:
            for row in page.results:
                if seen >= limit:
                    return
                seen += 1
                yield row
            if not page.next:
                return
            page = _parse(model, self._json("GET", page.next), f"GET {template} (next page)")

    # -- auth -------------------------------------------------------------------------------

    def login(self, username: str, password: str) -> str:
        self.token = self._read("POST", "auth/token/", json={"username": username, "password": password}).token
        return self.token

    def me(self) -> Me:
        return self._read("GET", "auth/me/")

    def logout(self) -> None:
        try:
            self._json("POST", "auth/logout/")
        finally:
            self.token = None

    def health(self) -> Health:
        return self._read("GET", "health/")

    # -- signers and references -------------------------------------------------------------

    def list_signers(
        self, search: str | None = None, status: str | None = None, page: int | None = None
    ) -> Page[Signer]:
        return self._read("GET", "signers/", params={"search": search, "status": status, "page": page})

    def get_signer(self, signer: str | int) -> Signer:
        return self._read("GET", "signers/{id}/", {"id": signer})

    def create_signer(self, external_id: str, full_name: str, status: str = "active") -> Signer:
        return self._read(
            "POST", "signers/", json={"external_id": external_id, "full_name": full_name, "status": status}
        )

    def update_signer(self, signer: str | int, **changes) -> Signer:
        return self._read("PATCH", "signers/{id}/", {"id": signer}, json=changes)

    def list_references(self, signer: str | int) -> list[Reference]:
        return list(self.iter_pages("signers/{signer_key}/references/", path_args={"signer_key": signer}))

    def upload_references(self, signer: str | int, images: Iterable[Upload]) -> ReferenceUploadResult:
        """What was accepted and what was rejected, with the reasons.

        When no image is accepted the API answers 400 with the same lists; that is still a
        result to show, not a failure of the call.
        """
        files = [
            ("images", (name, content, content_type or "application/octet-stream"))
            for name, content, content_type in images
        ]
        try:
            return self._read(
                "POST",
                "signers/{signer_key}/references/",
                {"signer_key": signer},
                files=files,
                timeout=self.upload_timeout,
            )
        except ValidationError as error:
            if isinstance(error.body, dict) and "rejected" in error.body:
                return _parse(
                    ReferenceUploadResult,
                    {"accepted": [], "flagged": [], **error.body},
                    "POST signers/{signer_key}/references/ (400)",
                )
            raise

    def settle_reference(self, signer: str | int, reference_id: int, accept: bool) -> Reference:
        """Accept (use it) or reject (never use it) a reference the upload flagged."""
        action = "accept" if accept else "reject"
        return self._read(
            "POST", f"signers/{{signer_key}}/references/{{id}}/{action}/", {"signer_key": signer, "id": reference_id}
        )

    def reference_image(self, signer: str | int, reference_id: int, preprocessed: bool = False) -> bytes:
        kind = "preprocessed" if preprocessed else "image"
        return self._bytes(f"signers/{_key(signer)}/references/{reference_id}/{kind}/")

    # -- verifications ----------------------------------------------------------------------

    def verify(
        self,
        signer: str | int,
        image: Upload,
        crop: tuple[int, int, int, int] | None = None,
        cheque_reference: str | None = None,
    ) -> Verification:
        data = {"signer": str(signer)}
        if crop is not None:
            data["crop"] = ",".join(str(int(v)) for v in crop)
        if cheque_reference:
            data["cheque_reference"] = cheque_reference
        name, content, content_type = image
        files = {"image": (name, content, content_type or "application/octet-stream")}
        return self._read("POST", "verifications/", data=data, files=files, timeout=self.upload_timeout)

    def signature_region(self, image: Upload) -> SignatureRegion:
        """The service's proposed signature box on a whole cheque (page 1 of a TIFF)."""
        name, content, content_type = image
        files = {"image": (name, content, content_type or "application/octet-stream")}
        return self._read("POST", "signature-region/", files=files, timeout=self.upload_timeout)

    def list_verifications(self, **filters) -> Page[Verification]:
        return self._read("GET", "verifications/", params=filters)

    def all_verifications(self, limit: int = 5000, **filters) -> list[Verification]:
        filters.pop("page", None)
        return list(self.iter_pages("verifications/", params=_clean(filters), limit=limit))

    def get_verification(self, verification_id: int) -> Verification:
        return self._read("GET", "verifications/{id}/", {"id": verification_id})

    def verification_image(self, verification_id: int, preprocessed: bool = False) -> bytes:
        kind = "preprocessed" if preprocessed else "image"
        return self._bytes(f"verifications/{verification_id}/{kind}/")

    def review(self, verification_id: int, final_decision: str, comment: str = "") -> Review:
        """Record the human's final call: ``genuine`` or ``forgery`` (a comment is needed to overrule)."""
        return self._read(
            "POST",
            "verifications/{id}/review/",
            {"id": verification_id},
            json={"final_decision": final_decision, "comment": comment},
        )

    # -- clearing files -----------------------------------------------------------------------

    def upload_clearing_file(self, upload: Upload) -> ClearingFile:
        """Send an image cash letter; the service reads it once before answering (a 400 names the record)."""
        name, content, content_type = upload
        files = {"file": (name, content, content_type or "application/octet-stream")}
        return self._read("POST", "clearing-files/", files=files, timeout=self.upload_timeout)

    def list_clearing_files(self, **filters) -> Page[ClearingFile]:
        return self._read("GET", "clearing-files/", params=filters)

    def get_clearing_file(self, file_id: int) -> ClearingFile:
        return self._read("GET", "clearing-files/{id}/", {"id": file_id})

    def list_clearing_items(self, file_id: int, **filters) -> Page[ClearingItem]:
        return self._read("GET", "clearing-files/{id}/items/", {"id": file_id}, params=filters)

    def export_clearing_file(self, file_id: int, kind: str = "csv", **filters) -> bytes:
        """Every item's decision as CSV or JSON (the items' filters apply)."""
        return self.request("GET", f"clearing-files/{file_id}/export/{kind}/", params=filters, accept="*/*").content

    # -- models and training ----------------------------------------------------------------

    def list_model_versions(self) -> list[ModelVersion]:
        return list(self.iter_pages("model-versions/"))

    def get_model_version(self, version_id: int) -> ModelVersion:
        return self._read("GET", "model-versions/{id}/", {"id": version_id})

    def model_version_plot(self, version_id: int, name: str) -> bytes:
        """A PNG the model card lists in ``plots`` (ROC/DET curves, score histograms)."""
        return self._bytes(f"model-versions/{version_id}/plots/{quote(name, safe='')}/")

    def promote(self, version_id: int) -> Promotion:
        return self._read("POST", "model-versions/{id}/promote/", {"id": version_id})

    def get_policy(self, version_id: int) -> PolicyState:
        """The operating policy, the thresholds in force, its test-writer outcome and the sweep of policies."""
        return self._read("GET", "model-versions/{id}/policy/", {"id": version_id})

    def preview_policy(self, version_id: int, far_skilled: float, frr: float) -> PolicyPreview:
        """What a policy would do (thresholds, test-writer outcome) without applying it."""
        return self._read(
            "GET",
            "model-versions/{id}/policy/preview/",
            {"id": version_id},
            params={"far_skilled": far_skilled, "frr": frr},
        )

    def set_policy(self, version_id: int, far_skilled: float, frr: float, reason: str) -> PolicyState:
        """Apply a policy (audited; the reason is required)."""
        return self._read(
            "PUT",
            "model-versions/{id}/policy/",
            {"id": version_id},
            json={"far_skilled": far_skilled, "frr": frr, "reason": reason},
        )

    def get_promotion(self, promotion_id: int) -> Promotion:
        return self._read("GET", "promotions/{id}/", {"id": promotion_id})

    def list_promotions(self, **filters) -> list[Promotion]:
        return list(self.iter_pages("promotions/", params=_clean(filters), limit=100))

    def list_training_jobs(self, limit: int = 50, **filters) -> list[TrainingJob]:
        """Newest first; ``status=`` narrows it (queued, running, succeeded, failed, cancelled)."""
        return list(self.iter_pages("training-jobs/", params=_clean(filters), limit=limit))

    def get_training_job(self, job_id: int) -> TrainingJob:
        return self._read("GET", "training-jobs/{id}/", {"id": job_id})

    def start_training(self, parameters: dict) -> TrainingJob:
        return self._read("POST", "training-jobs/", json=parameters)

    def cancel_training(self, job_id: int) -> TrainingJob:
        return self._read("POST", "training-jobs/{id}/cancel/", {"id": job_id})

    # -- bank accounts, mandates and cheques ----------------------------------------------------

    def list_accounts(self, search: str | None = None, limit: int = 200) -> list[Account]:
        return list(self.iter_pages("accounts/", params=_clean({"search": search}), limit=limit))

    def get_account(self, number: str) -> Account:
        return self._read("GET", "accounts/{number}/", {"number": number})

    def create_account(self, number: str, name: str) -> Account:
        return self._read("POST", "accounts/", json={"number": number, "name": name})

    def update_account(self, number: str, **changes) -> Account:
        return self._read("PATCH", "accounts/{number}/", {"number": number}, json=changes)

    def add_signatory(self, number: str, signer: str, group: str, limit=None, valid_from=None, valid_until=None):
        body = {"signer": signer, "group": group, "limit": limit, "valid_from": valid_from, "valid_until": valid_until}
        return self._read("POST", "accounts/{number}/signatories/", {"number": number}, json=body)

    def remove_signatory(self, number: str, signer: str) -> None:
        self._json("DELETE", f"accounts/{_key(number)}/signatories/{_key(signer)}/")

    def set_mandate(self, number: str, bands: list[dict], reason: str) -> Mandate:
        return self._read(
            "PUT", "accounts/{number}/mandate/", {"number": number}, json={"bands": bands, "reason": reason}
        )

    def mandate_words(self, number: str, bands: list[dict]) -> MandateWords:
        """``bands`` in the API's words, checked against the account's groups; nothing is set."""
        return self._read("POST", "accounts/{number}/mandate/words/", {"number": number}, json={"bands": bands})

    def decide_cheque(
        self, account: str, amount: str, image: Upload, cheque_reference: str = "", cheque_date: str | None = None
    ) -> ChequeDecision:
        data = {"account": account, "amount": amount, "cheque_reference": cheque_reference or ""}
        if cheque_date:
            data["cheque_date"] = cheque_date
        name, content, content_type = image
        files = {"image": (name, content, content_type or "application/octet-stream")}
        return self._read("POST", "cheques/", data=data, files=files, timeout=self.upload_timeout)

    def list_cheques(self, limit: int = 200, **filters) -> list[ChequeDecision]:
        return list(self.iter_pages("cheques/", params=_clean(filters), limit=limit))

    def get_cheque(self, cheque_id: int) -> ChequeDecision:
        return self._read("GET", "cheques/{id}/", {"id": cheque_id})

    def cheque_image(self, cheque_id: int) -> bytes:
        return self._bytes(f"cheques/{int(cheque_id)}/image/")

    def review_cheque(self, cheque_id: int, outcome: str, comment: str = "") -> ChequeReview:
        return self._read(
            "POST", "cheques/{id}/review/", {"id": cheque_id}, json={"outcome": outcome, "comment": comment}
        )


def _parse(model: type[Model], body: Any, what: str) -> Model:
    try:
        return model.model_validate(body)
    except ModelMismatch as exc:
        log.warning("%s answered a shape the interface does not read: %s", what, exc)
        raise ServerUnavailable(
            status=None, code="bad_response", message="The service sent an answer the interface could not read."
        ) from exc
