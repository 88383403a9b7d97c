"""The process-wide model cache used by the web server.

A ``Verifier`` is created on first use (never at import, so never before a server forks
its workers), once per process, and kept per (version id, sha256). Each request looks
up the active version in the database (one cheap query) and asks for its verifier, so a
newly promoted version is picked up without a restart. The thresholds come from that same
row (``thresholds_in_force``), not from the loaded card: a changed operating policy applies
to the next request, in every process, without reloading the model.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from apps.core.exceptions import ServiceUnavailable
from sigverify.errors import ModelLoadError
from sigverify.policy import thresholds_at

from .models import ModelVersion

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_verifiers: dict[tuple[int, str], object] = {}
_failures: dict[tuple[int, str], LoadFailure] = {}
_KEEP = 2  # the active version and the one before it (requests in flight during a switch)


@dataclass
class LoadFailure:
    message: str
    file_stamp: tuple
    at: float


def _key(version: ModelVersion) -> tuple[int, str]:
    return (version.pk, version.sha256)


def _file_stamp(version: ModelVersion) -> tuple:
    """Changes when the weights file (or an ONNX file beside it) changes, so a repaired file is retried."""
    directory = Path(version.weights_path)
    stamps = []
    for path in [directory / version.model_card.weights_file, *sorted(directory.glob("*.onnx"))]:
        try:
            stat = path.stat()
            stamps.append((stat.st_size, stat.st_mtime_ns))
        except OSError:
            stamps.append((None, None))
    return tuple(stamps)


def get_verifier(version: ModelVersion):
    """The loaded ``sigverify.inference.Verifier`` for ``version``. Thread-safe.

    Raises ``ModelLoadError`` when the weights are missing or damaged (sha256 mismatch);
    the failure is remembered until the file changes, so a broken file is not re-hashed on
    every request.
    """
    key = _key(version)
    verifier = _verifiers.get(key)
    if verifier is not None:
        return verifier
    with _lock:
        verifier = _verifiers.get(key)
        if verifier is not None:
            return verifier
        stamp = _file_stamp(version)
        failure = _failures.get(key)
        if failure is not None and failure.file_stamp == stamp:
            raise ModelLoadError(failure.message)
        verifier = _load(version, stamp)
        while len(_verifiers) >= _KEEP:
            _verifiers.pop(next(iter(_verifiers)))
        _verifiers[key] = verifier
        _failures.pop(key, None)
        return verifier


def _load(version: ModelVersion, stamp: tuple):
    from sigverify.inference import Verifier, limit_threads  # torch imported on first use only

    from .runtime import thread_setting

    limit_threads(thread_setting())  # ONNX Runtime's session, made on first use, takes the same limit
    started = time.perf_counter()
    try:
        verifier = Verifier.from_dir(
            version.weights_path,
            precision=settings.SIGVERIFY_INFERENCE_PRECISION,
            inference=settings.SIGVERIFY_INFERENCE,
        )
        if verifier.sha256 != version.sha256:
            raise ModelLoadError(
                f"model directory {version.weights_path} now holds weights {verifier.sha256[:12]}, "
                f"not the registered {version.sha256[:12]}"
            )
    except ModelLoadError as exc:
        _failures[_key(version)] = LoadFailure(str(exc), stamp, time.time())
        logger.error("cannot load model version %s: %s", version.name, exc)
        raise
    except Exception as exc:  # a card the code cannot serve (e.g. other preprocessing) is a load error too
        message = f"cannot load model version {version.name}: {exc}"
        _failures[_key(version)] = LoadFailure(message, stamp, time.time())
        logger.exception(message)
        raise ModelLoadError(message) from exc
    logger.info(
        "loaded model version %s (%s, %s: %s) in %.0f ms",
        version.name,
        version.sha256[:12],
        verifier.inference_path,
        verifier.inference_reason,
        1000 * (time.perf_counter() - started),
    )
    return verifier


def load_state(version: ModelVersion | None) -> dict:
    """For the health check: is the version loaded in this process, or did loading fail."""
    if version is None:
        return {"state": "no_active_version", "error": None}
    key = _key(version)
    if key in _verifiers:
        verifier = _verifiers[key]
        return {
            "state": "loaded",
            "error": None,
            "precision": verifier.precision,
            "inference": verifier.inference_path,
            "inference_reason": verifier.inference_reason,
        }
    failure = _failures.get(key)
    if failure is not None:
        return {"state": "error", "error": failure.message}
    weights = Path(version.weights_path) / version.model_card.weights_file
    if not weights.is_file():
        return {"state": "error", "error": f"weights file missing: {weights}"}
    return {"state": "not_loaded", "error": None}


def loaded_versions() -> list[dict]:
    """What this process has loaded, per version: the inference path each is served with."""
    return [
        {
            "version_id": pk,
            "sha256": sha256,
            "inference": verifier.inference_path,
            "inference_reason": verifier.inference_reason,
            "precision": verifier.precision,
        }
        for (pk, sha256), verifier in list(_verifiers.items())
    ]


def clear_cache() -> None:
    """Forget loaded models and failures (tests; an operator after replacing files)."""
    with _lock:
        _verifiers.clear()
        _failures.clear()


def thresholds_in_force(version: ModelVersion, references: int | None = None, cheque: bool = False) -> dict:
    """The thresholds a decision made now uses: the version row's, which follow its operating policy.

    ``references``: the R the decision compares with. Where the version has a pair per R
    (``by_references``), the pair of that R's bucket is used and ``references`` says which R it
    was fitted for (None: the version's one pair serves every R). ``cheque``: the signature was
    cut from a whole cheque by the finder; where the version has a pair fitted on such crops the
    stricter one is used, and ``"cheque"`` says whether it had one (``policy.thresholds_at``)."""
    thresholds = version.operating_thresholds
    base = {"accept": thresholds.accept, "reject": thresholds.reject, "eer": thresholds.eer}
    if references is None:
        return base
    pair = thresholds_at({**(version.thresholds or {}), **base}, references, cheque=cheque)
    return {**base, **pair}


def require_version(version: ModelVersion | None) -> ModelVersion:
    """The active ``version``, or a clear 503 when there is none."""
    if version is None:
        raise ServiceUnavailable(
            "No model version is active. An administrator must register and activate one "
            "(manage.py register_shipped_model).",
            code="no_active_model",
        )
    return version


def require_verifier(version: ModelVersion | None):
    """``get_verifier`` for API services: no active version or a broken file is a clear 503."""
    version = require_version(version)
    try:
        return get_verifier(version)
    except ModelLoadError as exc:
        raise ServiceUnavailable(
            f"The model version {version.name} cannot be loaded, so nothing can be verified now: {exc}",
            code="model_unavailable",
        ) from exc
