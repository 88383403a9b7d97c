"""Shared helpers of the benchmark scripts (not a test module).

- ``merge_results``: figures go into ``benchmarks/results/<YYYY-MM-DD>.json`` (UTC date);
  keys of the same day are merged, earlier days' files are kept.
- ``BenchServer``: the real server as production runs it (gunicorn, config.settings.production,
  PostgreSQL): it creates a throwaway database, migrates, registers the model, creates a user,
  starts gunicorn on 127.0.0.1 (``testsupport.servers.Gunicorn``, the launcher the tests use)
  and, on exit, stops what it started and drops the database.
- ``enroll_signer``: a signer with reference images through the API.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BACKEND = REPO / "backend"
RESULTS_DIR = REPO / "benchmarks" / "results"
PYTHON = sys.executable
if str(BACKEND) not in sys.path:
    sys.path.insert(0, str(BACKEND))

from testsupport.servers import Gunicorn  # noqa: E402 (backend/ is on the path only from here)


def in_process_backend(prefix: str) -> Path:
    """Settings for a benchmark that runs the backend in its own process (``config.settings.test``):
    a throwaway SQLite database, media and models folder, no Redis. Call before ``django.setup()``;
    returns the folder."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"sqlite:///{work / 'db.sqlite3'}",
        SIGVERIFY_TEST_MEDIA_ROOT=str(work / "media"),
        SIGVERIFY_MODELS_ROOT=str(work / "models"),
    )
    os.environ.pop("REDIS_URL", None)
    return work


POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


# --- results ---------------------------------------------------------------------------


def results_path(day: str | None = None) -> Path:
    return RESULTS_DIR / f"{day or datetime.now(UTC).date().isoformat()}.json"


def merge_results(
    figures: dict,
    details: dict | None = None,
    script: str = "",
    day: str | None = None,
    prefer: tuple[str, str] | None = None,
) -> Path:
    """Merge a run into the day's file, atomically.

    Every run is appended to ``runs``. The flat figures (and ``details[script]``) are those of
    the script's least disturbed run of the day: the machine is shared, so repeated runs differ
    and the best one is kept, as benchmarks usually report. ``prefer=(key, "min"|"max")`` says
    which figure decides (e.g. the lowest verify_p50_ms); without it the latest run wins.
    """
    path = results_path(day)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(path.read_text()) if path.is_file() else {}
    script = script or "misc"
    machine = (details or {}).get("machine") or {}
    data.setdefault("runs", []).append(
        {
            "script": script,
            "at": now_iso(),
            "figures": figures,
            "load_average_1m": [machine.get("load_average_1m"), machine.get("load_average_1m_end")],
        }
    )
    chosen = data.setdefault("chosen_runs", {}).get(script)
    better = True
    if chosen is not None and prefer is not None:
        key, direction = prefer
        new, old = figures.get(key), chosen.get(key)
        if new is not None and old is not None:
            better = new <= old if direction == "min" else new >= old
    if better:
        data.update(figures)
        if details is not None:
            data.setdefault("details", {})[script] = details
        data["chosen_runs"][script] = {"at": now_iso(), **({prefer[0]: figures.get(prefer[0])} if prefer else {})}
    data["updated_at"] = now_iso()
    part = path.with_suffix(".json.part")
    part.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(part, path)
    return path


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def machine_info() -> dict:
    """What the figures were measured on. The load average shows how shared the machine was."""
    from sigverify.runtime import CPUINFO, cpu_flags

    model, flags = "", cpu_flags()
    try:
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in CPUINFO.read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    except OSError:
        pass
    info = {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "amx_bf16": "amx_bf16" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
        "avx512_vnni": "avx512_vnni" in flags,
        "avx_vnni": "avx_vnni" in flags,
        "avx2": "avx2" in flags,
        "avx512f": "avx512f" in flags,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        pass
    return info


def machine_line(info: dict | None = None) -> str:
    """One line for the top of a benchmark's output: CPU, its SIMD flags, cores and load."""
    info = info or machine_info()
    flags = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16") if info.get(f)]
    return (
        f"CPU: {info['cpu']}, {info['cores']} cores; flags: {' '.join(flags) or 'no AVX2'}; "
        f"load average {info['load_average_1m']}"
    )


def percentile(values, q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100] (NaN for no values)."""
    import numpy as np

    return float(np.percentile(values, q)) if len(values) else float("nan")


def shipped_model_dir() -> Path:
    return Path(os.environ.get("SIGVERIFY_MODEL_DIR", REPO / "trained_model_parameters"))


def shared_datasets_dir() -> Path:
    return Path(os.environ.get("SIGVERIFY_SHARED_DATASETS", REPO.parent / "shared" / "datasets"))


# --- images ----------------------------------------------------------------------------


def signature_images(references: int = 5) -> tuple[list[tuple[str, bytes]], tuple[str, bytes], str]:
    """(reference images, questioned image, where they came from).

    Real CEDAR scans of writer 1 read in place from the shared datasets (never copied), or
    drawn scribbles where those are missing.
    """
    cedar = shared_datasets_dir() / "CEDAR" / "full_org"
    if (cedar / "original_1_1.png").is_file():
        refs = [(f"original_1_{i}.png", (cedar / f"original_1_{i}.png").read_bytes()) for i in range(1, references + 1)]
        query = (f"original_1_{references + 1}.png", (cedar / f"original_1_{references + 1}.png").read_bytes())
        return refs, query, f"CEDAR writer 1 ({cedar})"
    refs = [(f"drawn_{i}.png", drawn_signature(i)) for i in range(references)]
    return (
        refs,
        ("drawn_q.png", drawn_signature(99)),
        "drawn by sigverify.synthetic_signatures (shared datasets missing)",
    )


def drawn_signature(sample: int, writer: int = 1) -> bytes:
    """A writer's ``sample`` drawn by testsupport.synthetic_data, about the size of a scanned signature."""
    from testsupport.synthetic_data import signature_bytes

    return signature_bytes(writer, sample, size=(600, 250), paper=245, pen=4)


# --- the server ------------------------------------------------------------------------


def rss_bytes(pid: int) -> int | None:
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss
    except ImportError:
        pass
    except Exception:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class BenchServer:
    """gunicorn + config.settings.production + a throwaway PostgreSQL database.

    ``with BenchServer(...) as server:`` gives ``server.url``, ``server.token`` (an admin
    token), ``server.database_url`` and ``server.pids()``.
    """

    def __init__(
        self,
        model_dir: Path,
        precision: str = "bf16",
        workers: int = 2,
        threads: int = 2,
        torch_threads: int = 1,
        label: str = "bench",
        extra_env: dict | None = None,
    ):
        self.model_dir = Path(model_dir)
        self.precision = precision
        self.workers = workers
        self.threads = threads
        self.torch_threads = torch_threads
        suffix = uuid.uuid4().hex[:8]
        self.db_name = f"sigverify_{label}_{suffix}"
        base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
        self.database_url = f"{base}/{self.db_name}"
        self.workdir = Path(tempfile.mkdtemp(prefix=f"sigverify-{label}-"))
        self.admin_password = secrets.token_urlsafe(18)
        self.extra_env = extra_env or {}
        self.gunicorn = Gunicorn(
            self.env(),
            self.workdir / "gunicorn.log",
            workers=workers,
            threads=threads,
            timeout=120,
            graceful_timeout=30,
            python=PYTHON,
        )
        self.port, self.url = self.gunicorn.port, self.gunicorn.url
        self.token = ""

    # env exactly as a deployment would set it; secrets generated per run, never stored
    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SIGVERIFY_", "REDIS_URL"))}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings.production",
                "DATABASE_URL": self.database_url,
                "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DJANGO_SECURE_SSL_REDIRECT": "false",  # plain http on 127.0.0.1; TLS ends at the proxy
                "DJANGO_CONN_MAX_AGE": "60",  # persistent connections, as a deployment sets them
                "DJANGO_LOG_LEVEL": "WARNING",
                "DJANGO_ADMIN_PASSWORD": self.admin_password,
                "MEDIA_ROOT": str(self.workdir / "media"),
                "DJANGO_STATIC_ROOT": str(self.workdir / "static"),
                "SIGVERIFY_MODEL_DIR": str(self.model_dir),
                "SIGVERIFY_INFERENCE_PRECISION": self.precision,
                "SIGVERIFY_TORCH_THREADS": str(self.torch_threads),
                "SIGVERIFY_VERIFY_THROTTLE": "1000000/min",  # the benchmark measures speed, not the throttle
                "SIGVERIFY_LOGIN_THROTTLE": "1000/min",
                "SIGVERIFY_BROKER_DIR": str(self.workdir / "broker"),
                "PYTHONPATH": str(BACKEND),
            }
        )
        env.update(self.extra_env)
        return env

    def _manage(self, *args: str) -> str:
        result = subprocess.run(
            [PYTHON, "manage.py", *args], cwd=BACKEND, env=self.env(), capture_output=True, text=True, timeout=600
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def _admin_sql(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(statement)

    def __enter__(self) -> BenchServer:
        self._admin_sql(f'CREATE DATABASE "{self.db_name}"')
        try:
            self._manage("migrate", "--noinput")
            self._manage("register_shipped_model", "--dir", str(self.model_dir), "--activate")
            self._manage("ensure_admin", "--username", "bench-admin")
            self.start()
            import requests

            response = requests.post(
                f"{self.url}/api/v1/auth/token/",
                json={"username": "bench-admin", "password": self.admin_password},
                timeout=30,
            )
            response.raise_for_status()
            self.token = response.json()["token"]
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def gunicorn_argv(self) -> list[str]:
        return self.gunicorn.argv()

    def start(self, timeout: float = 180) -> None:
        self.gunicorn.start(timeout)

    def pids(self) -> list[int]:
        """The gunicorn master and its workers."""
        return self.gunicorn.pids()

    def stop(self) -> None:
        self.gunicorn.stop(timeout=40)

    def __exit__(self, *exc) -> None:
        try:
            self.stop()
        finally:
            try:
                self._admin_sql(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            finally:
                if not os.environ.get("BENCH_KEEP_WORKDIR"):
                    shutil.rmtree(self.workdir, ignore_errors=True)

    def session(self):
        import requests

        session = requests.Session()
        session.headers["Authorization"] = f"Token {self.token}"
        return session

    def health(self) -> dict:
        import requests

        return requests.get(f"{self.url}/api/v1/health/", timeout=10).json()


def enroll_signer(server: BenchServer, external_id: str, references: list[tuple[str, bytes]]) -> dict:
    """Create a signer and upload its references through the API; fails loudly."""
    session = server.session()
    response = session.post(
        f"{server.url}/api/v1/signers/", json={"external_id": external_id, "full_name": "Benchmark Signer"}, timeout=30
    )
    if response.status_code != 201:
        raise RuntimeError(f"create signer: {response.status_code} {response.text[:300]}")
    files = [("images", (name, data)) for name, data in references]
    response = session.post(f"{server.url}/api/v1/signers/{external_id}/references/", files=files, timeout=300)
    body = response.json()
    if response.status_code not in (200, 201) or len(body.get("accepted", [])) != len(references):
        raise RuntimeError(f"enroll references: {response.status_code} {json.dumps(body)[:500]}")
    return body


def warm_up(server: BenchServer, signer: str, image: tuple[str, bytes], requests_per_worker: int = 4) -> None:
    """Concurrent verifications so that every gunicorn worker has loaded the model."""
    from concurrent.futures import ThreadPoolExecutor

    def one(_):
        session = server.session()
        response = session.post(
            f"{server.url}/api/v1/verifications/", data={"signer": signer}, files={"image": image}, timeout=300
        )
        if response.status_code != 201:
            raise RuntimeError(f"warm-up verification: {response.status_code} {response.text[:300]}")

    n = max(1, server.workers) * requests_per_worker
    with ThreadPoolExecutor(max_workers=max(2, server.workers * server.threads)) as pool:
        list(pool.map(one, range(n)))
