"""Real servers for tests and benchmarks: a free port, gunicorn as production runs it, Celery
workers on a test's own queues (``CeleryWorkers``), and the database URL such a process can open.

Every server listens on 127.0.0.1 and runs in its own process group, so stopping it stops its
workers too. gunicorn runs without its control socket: by default every gunicorn of a user
shares one socket path, and tests and benchmarks start several.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(
    url: str,
    process: subprocess.Popen,
    log: Path,
    timeout: float = 120,
    ready: Callable[[int], bool] = lambda status: status == 200,
) -> None:
    """Poll ``url`` until its status is ``ready``; RuntimeError (with the log's tail) when the
    process exits first or ``timeout`` seconds pass."""
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited ({process.returncode}):\n{log_tail(log)}")
        try:
            if ready(requests.get(url, timeout=5).status_code):
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f} s:\n{log_tail(log)}")


def log_tail(path: Path, chars: int = 3000) -> str:
    path = Path(path)
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


class Gunicorn:
    """``python -m gunicorn config.wsgi:application`` from backend/, on a free port of 127.0.0.1.

    ``env`` is the whole environment of the server (settings module, DATABASE_URL, ...); its
    output goes to ``log``. ``start()`` returns once ``/api/v1/health/`` answers 200.
    """

    def __init__(
        self,
        env: dict,
        log: Path,
        *,
        workers: int = 1,
        threads: int = 2,
        timeout: int = 120,
        graceful_timeout: int = 30,
        python: str = sys.executable,
    ):
        self.env = env
        self.log = Path(log)
        self.workers_count = workers
        self.threads = threads
        self.timeout = timeout
        self.graceful_timeout = graceful_timeout
        self.python = python
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def argv(self) -> list[str]:
        return [
            self.python,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers_count),
            "--threads",
            str(self.threads),
            "--timeout",
            str(self.timeout),
            "--graceful-timeout",
            str(self.graceful_timeout),
            "--no-control-socket",
        ]

    def start(self, timeout: float = 180) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.argv(), cwd=BACKEND, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_for_http(f"{self.url}/api/v1/health/", self.process, self.log, timeout)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def workers(self) -> list[int]:
        """The process ids of the workers (the master's children)."""
        if not self.running():
            return []
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except OSError:
            return []

    def pids(self) -> list[int]:
        """The master and its workers."""
        return [self.process.pid, *self.workers()] if self.running() else []

    def stop(self, timeout: float = 60) -> bool:
        """Graceful: SIGTERM lets in-flight requests finish. False when it took SIGKILL after
        ``timeout`` seconds."""
        if not self.running():
            return True
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            self.kill()
            return False

    def kill(self) -> None:
        if self.running():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def log_tail(self, chars: int = 3000) -> str:
        return log_tail(self.log, chars)


def database_url_for_subprocesses(on_unavailable: Callable[[str], object]) -> str:
    """A DATABASE_URL that a server or worker process started by a test can open: the
    test database itself. ``on_unavailable(reason)`` skips or fails when there is none."""
    from urllib.parse import quote

    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = quote(s["USER"] or "", safe="")
        if s.get("PASSWORD"):
            auth += ":" + quote(s["PASSWORD"], safe="")
        return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    if connection.vendor == "sqlite" and not connection.is_in_memory_db():
        return f"sqlite:///{s['NAME']}"
    return on_unavailable("the test database is in-memory SQLite, which another process cannot open; set DATABASE_URL")


def reachable_redis_url() -> str:
    """``REDIS_URL``, answering a ping; skipped where unset or down (failed in CI, ``testsupport.ci``)."""
    import redis

    from testsupport.ci import skip_or_fail

    url = os.environ.get("REDIS_URL", "")
    if not url:
        skip_or_fail("REDIS_URL is not set: these tests need a real Redis and Celery worker")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis at {url} is unreachable: {exc}")
    return url


@dataclass
class CeleryWorker:
    """A ``celery -A config worker`` subprocess started in a process group of its own
    (``start_new_session=True``), so its pool children stop or die with it."""

    process: subprocess.Popen | None
    log_path: Path

    def log_tail(self, chars: int = 4000) -> str:
        return log_tail(self.log_path, chars)

    def kill_hard(self) -> None:
        """SIGKILL the worker and its pool children."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill_hard()


def start_celery_worker(
    env: dict, log_path: Path, *, queues: str, node: str = "celery@%h", loglevel: str = "INFO"
) -> subprocess.Popen:
    """``celery -A config worker`` from backend/ on ``queues`` (comma-separated), one prefork
    child, named ``node``, in a process group of its own; output to ``log_path``."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                queues,
                "--pool",
                "prefork",
                "--concurrency",
                "1",
                "-n",
                node,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                loglevel,
            ],
            cwd=BACKEND,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def worker_env(redis_url: str, database_url: str, media_root, **settings: str) -> dict:
    """A test worker's environment: the test settings, database and media, one torch thread, and
    ``settings`` (``SIGVERIFY_*`` names: its queues, when a run counts as stale, ...)."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MEDIA_ROOT": str(media_root),
        "SIGVERIFY_WORKER_TORCH_THREADS": "1",
        "SIGVERIFY_TORCH_THREADS": "1",
        **settings,
    }


@dataclass
class NamedWorker(CeleryWorker):
    name: str = ""  # the node name, host filled in (what a run records as its worker)


class CeleryWorkers:
    """Workers a test module starts on a default queue of its own (``<prefix>-<suffix>``), sharing
    the test database and media: ``start("a")`` -> a worker named ``a-<suffix>@<host>``.
    ``stop_all()`` stops them and drops the queue. ``settings`` go to ``worker_env``."""

    def __init__(self, redis_url: str, database_url: str, root: Path, media_root, prefix: str, **settings: str):
        self.url, self.root, self.suffix = redis_url, root, os.urandom(4).hex()
        self.queue = f"{prefix}-{self.suffix}"
        self.started: list[NamedWorker] = []
        self.env = worker_env(
            redis_url,
            database_url,
            media_root,
            SIGVERIFY_DEFAULT_QUEUE=self.queue,
            SIGVERIFY_GPU_QUEUE=f"{self.queue}-gpu",
            **settings,
        )

    @classmethod
    def on_test_database(cls, django_db_blocker, root: Path, prefix: str, **settings: str) -> CeleryWorkers:
        """Workers on ``REDIS_URL`` that share the PostgreSQL test database; skipped without either
        (failed in CI, ``testsupport.ci``)."""
        from django.conf import settings as django_settings
        from django.db import connection

        from testsupport.ci import skip_or_fail

        url = reachable_redis_url()
        with django_db_blocker.unblock():
            if connection.vendor != "postgresql":
                skip_or_fail("these tests need PostgreSQL (set DATABASE_URL): workers and tests share the database")
            database_url = database_url_for_subprocesses(skip_or_fail)
        return cls(url, database_url, root, django_settings.MEDIA_ROOT, prefix, **settings)

    def start(self, name: str) -> NamedWorker:
        node = f"{name}-{self.suffix}@%h"
        log_path = self.root / f"{name}-{len(self.started)}.log"
        process = start_celery_worker(self.env, log_path, queues=self.queue, node=node)
        worker = NamedWorker(process, log_path, name=node.replace("%h", socket.gethostname()))
        self.started.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop()
        import redis

        redis.Redis.from_url(self.url).delete(self.queue)


def wait_for(
    read, done, worker: CeleryWorker, timeout: float, what: str, interval: float = 0.2, may_exit: bool = False
):
    """Poll ``read()`` until ``done(value)``; returns the value and every value seen. Fails with
    the worker's log after ``timeout`` seconds, or as soon as the worker exits (unless ``may_exit``)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read()
        seen.append(value)
        if done(value):
            return value, seen
        if not may_exit and worker.process.poll() is not None:
            raise AssertionError(
                f"worker exited ({worker.process.returncode}) waiting for {what}:\n{worker.log_tail()}"
            )
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {seen[-1:]}\n{worker.log_tail()}")
