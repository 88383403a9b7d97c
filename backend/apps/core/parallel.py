"""A per-process thread pool for the image work of batch and clearing runs.

Decoding, cropping and preprocessing are OpenCV, numpy and Pillow calls that release the GIL,
so a batch's items are preprocessed on ``SIGVERIFY_BATCH_THREADS`` threads at once (default:
the CPU cores this process may use) while the run's own thread reads the database, embeds and
writes. The pool is made on first use in each process: a Celery worker child forked from its
parent gets its own, never the parent's threads. Database work stays on the caller's thread.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor

from django.conf import settings

_lock = threading.Lock()
_pool: tuple[int, int, ThreadPoolExecutor] | None = None  # (pid, threads, pool)


def default_threads() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def batch_threads() -> int:
    return max(1, int(settings.SIGVERIFY_BATCH_THREADS or default_threads()))


class _Inline(Executor):
    """One thread: the work runs at ``submit``, in the caller's thread (no pool to wait on)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed back by result(), as a pool would
            future.set_exception(exc)
        return future


def image_pool() -> Executor:
    """This process's pool of ``SIGVERIFY_BATCH_THREADS`` threads (inline when that is 1)."""
    global _pool
    threads = batch_threads()
    if threads == 1:
        return _Inline()
    with _lock:
        if _pool is None or _pool[0] != os.getpid() or _pool[1] != threads:
            _pool = (os.getpid(), threads, ThreadPoolExecutor(threads, thread_name_prefix="sigverify-images"))
        return _pool[2]


def map_images(fn: Callable, items: Iterable) -> list:
    """``[fn(item) for item in items]`` on the pool, in order; the first exception is raised."""
    futures = [image_pool().submit(fn, item) for item in items]
    return [future.result() for future in futures]
