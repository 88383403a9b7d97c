"""Per-process preparation of a worker: nothing here runs at import time, so the parent
worker never loads torch state before it forks; each child limits its threads and loads
models lazily on first use (``apps.modelregistry.serving.get_verifier``)."""

from __future__ import annotations

from django.conf import settings

_prepared = False


def prepare_worker_process() -> None:
    """Limit torch's threads, and those of ONNX Runtime sessions, in this process (once). Called in
    each worker child and by tasks, since the solo pool (``--pool solo``, GPU nodes) does not fork children."""
    global _prepared
    if _prepared:
        return
    from sigverify.inference import limit_threads

    limit_threads(settings.SIGVERIFY_WORKER_TORCH_THREADS)
    _prepared = True


def thread_setting() -> int:
    """The threads this process's inference may use: the worker setting in a worker, else the web one."""
    return settings.SIGVERIFY_WORKER_TORCH_THREADS if _prepared else settings.SIGVERIFY_TORCH_THREADS
