#!/usr/bin/env python
"""`make run`: prepare the database and start the whole stack on this machine.

Steps: migrate, register the shipped model (trained_model_parameters/), ensure the admin
account (its generated password is printed once), then start every process in
``processes()`` together. Ctrl-C, or any one of them exiting, stops them all.

``processes()`` lists them: the Django server, a Celery worker (with beat) and Streamlit; to
add one, append a ``Process`` there.
Environment: SIGVERIFY_HOST / SIGVERIFY_PORT (default 127.0.0.1:8000), DJANGO_SETTINGS_MODULE
(default config.settings.local) and everything config/settings reads.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[1]
REPO = BACKEND.parent
PYTHON = sys.executable
HOST = os.environ.get("SIGVERIFY_HOST", "127.0.0.1")
PORT = int(os.environ.get("SIGVERIFY_PORT", "8000"))
API_URL = f"http://{HOST}:{PORT}"


@dataclass
class Process:
    name: str
    argv: list[str]
    cwd: Path = BACKEND
    env: dict[str, str] = field(default_factory=dict)
    ready_url: str | None = None  # polled until it answers before the URLs are printed
    urls: dict[str, str] = field(default_factory=dict)  # printed once everything is up


def setup_steps() -> list[list[str]]:
    manage = [PYTHON, "manage.py"]
    return [
        manage + ["migrate", "--noinput"],
        manage + ["register_shipped_model"],
        manage + ["ensure_admin"],
    ]


def processes() -> list[Process]:
    return [
        Process(
            name="api",
            argv=[PYTHON, "manage.py", "runserver", f"{HOST}:{PORT}", "--noreload"],
            ready_url=f"{API_URL}/api/v1/health/",
            urls={
                "API": f"{API_URL}/api/v1/",
                "Swagger UI": f"{API_URL}/api/v1/docs/ (log in at the admin first)",
                "Admin": f"{API_URL}/admin/",
                "Health": f"{API_URL}/api/v1/health/",
            },
        ),
        worker_process(),
        interface_process(),
    ]


def worker_process() -> Process:
    """One Celery worker for both queues (training; re-embedding and verification batches) beside
    the server, with Celery beat in it (the stale-run sweeps).

    Without REDIS_URL it uses the file-system broker under var/broker: no server needed.
    A GPU node runs its own worker for the gpu queue only (apps/training/README.md).
    """
    default_queue = os.environ.get("SIGVERIFY_DEFAULT_QUEUE", "default")
    gpu_queue = os.environ.get("SIGVERIFY_GPU_QUEUE", "gpu")
    concurrency = os.environ.get("SIGVERIFY_WORKER_CONCURRENCY", "2")  # a training job and a promotion at once
    broker = (
        "Redis (REDIS_URL)"
        if os.environ.get("REDIS_URL")
        else "files in " + os.environ.get("SIGVERIFY_BROKER_DIR", "var/broker/")
    )
    return Process(
        name="worker",
        # -B: Celery beat in this worker, for the stale-run sweeps (config/celery.py).
        argv=[
            PYTHON,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            f"{default_queue},{gpu_queue}",
            "--concurrency",
            concurrency,
            "--loglevel",
            "INFO",
            "-B",
            "--schedule",
            str(REPO / "var" / "celerybeat-schedule"),
        ],
        urls={"Worker": f"queues {default_queue},{gpu_queue}; broker: {broker}"},
    )


def interface_process() -> Process:
    """The Streamlit interface for clerks and ML staff, talking to this API (or SIGVERIFY_API_URL)."""
    ui_port = int(os.environ.get("SIGVERIFY_UI_PORT", "8501"))
    ui_url = f"http://{HOST}:{ui_port}"
    api_url = os.environ.get("SIGVERIFY_API_URL", f"{API_URL}/api/v1")
    return Process(
        name="interface",
        argv=[
            PYTHON,
            "-m",
            "streamlit",
            "run",
            str(REPO / "interface" / "app.py"),
            "--server.address",
            HOST,
            "--server.port",
            str(ui_port),
        ],
        cwd=REPO,
        env={"SIGVERIFY_API_URL": api_url},
        ready_url=f"{ui_url}/_stcore/health",
        urls={"Interface": f"{ui_url}/ (Streamlit; log in with an API user)"},
    )


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BACKEND), env.get("PYTHONPATH")]))
    return env


def run_setup(env) -> None:
    for argv in setup_steps():
        print(f"==> {' '.join(Path(a).name if a == PYTHON else a for a in argv)}", flush=True)
        if subprocess.call(argv, cwd=BACKEND, env=env) != 0:
            sys.exit(f"setup step failed: {' '.join(argv)}")


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            time.sleep(0.5)
    return False


def stop_all(running: list[tuple[Process, subprocess.Popen]], grace: float = 10.0) -> None:
    for _, proc in running:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    for _, proc in running:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def main() -> int:
    env = base_env()
    run_setup(env)
    running: list[tuple[Process, subprocess.Popen]] = []

    def _terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        for spec in processes():
            print(f"==> starting {spec.name}: {' '.join(spec.argv[1:])}", flush=True)
            # Own process group each, so stopping one stops its children too.
            proc = subprocess.Popen(spec.argv, cwd=spec.cwd, env={**env, **spec.env}, start_new_session=True)
            running.append((spec, proc))
        for spec, proc in running:
            if spec.ready_url and not wait_ready(spec.ready_url, proc):
                print(f"!! {spec.name} did not come up ({spec.ready_url})", file=sys.stderr)
                return 1
        print("\n" + "=" * 64)
        for spec, _ in running:
            for label, url in spec.urls.items():
                print(f"  {label:<12} {url}")
        print("  Stop everything with Ctrl-C.")
        print("=" * 64 + "\n", flush=True)
        while True:
            for spec, proc in running:
                code = proc.poll()
                if code is not None:
                    print(f"!! {spec.name} exited with {code}; stopping the rest", file=sys.stderr)
                    return code or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\n==> stopping", flush=True)
        return 0
    finally:
        stop_all(running)


if __name__ == "__main__":
    sys.exit(main())
