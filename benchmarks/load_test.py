#!/usr/bin/env python
"""Load test: 2,000 verifications from 8 concurrent clients against a server on 127.0.0.1.

    nice -n 10 .venv/bin/python benchmarks/load_test.py

Starts the real server (``benchlib.BenchServer``: gunicorn, production settings, a throwaway
PostgreSQL database), enrolls a signer, then sends --requests verifications from --clients
threads (a bounded pool; every request has its own ``cheque_reference``). It stops by itself:
after the last request, or at --deadline seconds, whichever comes first.

Checks, printed and written to benchmarks/results/<date>.json (exit status 1 if one fails):
- no 5xx answer;
- every request has exactly one Verification row (the rows are counted in the database before
  and after, and matched to the requests by their unique cheque_reference): none lost, none
  duplicated, none without an answer;
- the resident memory of the server processes (gunicorn master and workers, sampled each
  second with psutil or /proc) at the first and the last sample, and whether it kept growing.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed

import psycopg

import benchlib


class MemorySampler(threading.Thread):
    def __init__(self, server, interval: float = 1.0):
        super().__init__(daemon=True)
        self.server, self.interval = server, interval
        self.samples: list[tuple[float, int, dict]] = []  # (t, total rss, per pid)
        self._stop_event = threading.Event()

    def run(self):
        t0 = time.monotonic()
        while not self._stop_event.is_set():
            per_pid = {pid: benchlib.rss_bytes(pid) for pid in self.server.pids()}
            per_pid = {pid: rss for pid, rss in per_pid.items() if rss}
            self.samples.append((round(time.monotonic() - t0, 1), sum(per_pid.values()), per_pid))
            self._stop_event.wait(self.interval)

    def stop(self):
        self._stop_event.set()
        self.join(timeout=5)


def memory_report(samples) -> dict:
    if not samples:
        return {"error": "no samples"}
    mib = 1024 * 1024
    first, last = samples[0], samples[-1]
    totals = [s[1] for s in samples]
    # Growth over the second half of the run: a leak keeps climbing, a warm cache levels off.
    half = totals[len(totals) // 2 :]
    second_half_growth = (half[-1] - half[0]) / mib if len(half) > 1 else 0.0
    return {
        "first_total_mib": round(first[1] / mib, 1),
        "last_total_mib": round(last[1] / mib, 1),
        "max_total_mib": round(max(totals) / mib, 1),
        "second_half_growth_mib": round(second_half_growth, 1),
        "first_per_process_mib": {str(p): round(v / mib, 1) for p, v in first[2].items()},
        "last_per_process_mib": {str(p): round(v / mib, 1) for p, v in last[2].items()},
        "samples": len(samples),
        "sampler": "psutil" if _has_psutil() else "/proc",
    }


def _has_psutil() -> bool:
    try:
        import psutil  # noqa: F401

        return True
    except ImportError:
        return False


def count_rows(database_url: str, prefix: str) -> tuple[int, Counter]:
    with psycopg.connect(database_url) as conn:
        total = conn.execute("SELECT count(*) FROM verifications_verification").fetchone()[0]
        rows = conn.execute(
            "SELECT cheque_reference, count(*) FROM verifications_verification "
            "WHERE cheque_reference LIKE %s GROUP BY cheque_reference",
            (prefix + "%",),
        ).fetchall()
    return total, Counter({ref: n for ref, n in rows})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=str(benchlib.shipped_model_dir()))
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="bf16")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=1500, help="stop sending after this many seconds")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    references, query, source = benchlib.signature_images(5)
    machine = benchlib.machine_info()
    prefix = f"LOAD-{uuid.uuid4().hex[:8]}-"
    with benchlib.BenchServer(
        args.model_dir,
        precision=args.precision,
        workers=args.workers,
        threads=args.threads,
        torch_threads=args.torch_threads,
        label="load",
    ) as server:
        benchlib.enroll_signer(server, "LOAD-1", references)
        benchlib.warm_up(server, "LOAD-1", query)
        rows_before, _ = count_rows(server.database_url, prefix)
        sampler = MemorySampler(server)
        sampler.start()
        local = threading.local()
        stop_at = time.monotonic() + args.deadline

        def one(i: int):
            if time.monotonic() > stop_at:
                return i, None, 0.0, "not sent (deadline)"
            if not hasattr(local, "session"):
                local.session = server.session()
            started = time.perf_counter()
            try:
                response = local.session.post(
                    f"{server.url}/api/v1/verifications/",
                    data={"signer": "LOAD-1", "cheque_reference": f"{prefix}{i}"},
                    files={"image": query},
                    timeout=120,
                )
            except Exception as exc:  # a refused or dropped connection is a failure, not a crash
                return i, None, 1000 * (time.perf_counter() - started), f"{type(exc).__name__}: {exc}"[:200]
            return i, response.status_code, 1000 * (time.perf_counter() - started), None

        started = time.perf_counter()
        results = []
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            futures = [pool.submit(one, i) for i in range(args.requests)]
            for n, future in enumerate(as_completed(futures), 1):
                results.append(future.result())
                if n % 250 == 0:
                    print(f"  {n}/{args.requests} answered, {n / (time.perf_counter() - started):.1f}/s", flush=True)
        wall = time.perf_counter() - started
        sampler.stop()
        rows_after, per_reference = count_rows(server.database_url, prefix)
        health = server.health()

    statuses = Counter(str(code) if code else "no answer" for _, code, _, _ in results)
    server_errors = sum(1 for _, code, _, _ in results if code and code >= 500)
    answered_201 = {f"{prefix}{i}" for i, code, _, _ in results if code == 201}
    missing = sorted(answered_201 - set(per_reference))
    duplicated = sorted(ref for ref, n in per_reference.items() if n > 1)
    unanswered_rows = sorted(set(per_reference) - answered_201)
    latencies = [ms for _, code, ms, _ in results if code == 201]
    memory = memory_report(sampler.samples)
    checks = {
        "no_5xx": server_errors == 0,
        "all_answered_201": len(answered_201) == args.requests,
        "one_row_per_request": not missing and not duplicated and not unanswered_rows,
        "row_count_delta_matches": rows_after - rows_before == len(answered_201),
        "memory_levelled_off": memory.get("second_half_growth_mib", 0) < 0.1 * memory.get("first_total_mib", 1),
    }
    errors = Counter(err for _, _, _, err in results if err)
    figures = {
        "load_requests": args.requests,
        "load_clients": args.clients,
        "load_rps": round(len(answered_201) / wall, 1),
        "load_p50_ms": round(benchlib.percentile(latencies, 50), 1),
        "load_p95_ms": round(benchlib.percentile(latencies, 95), 1),
        "load_5xx": server_errors,
        "load_rows_missing": len(missing),
        "load_rows_duplicated": len(duplicated),
        "load_rss_first_mib": memory.get("first_total_mib"),
        "load_rss_last_mib": memory.get("last_total_mib"),
        "load_checks_passed": all(checks.values()),
    }
    details = {
        "command": "benchmarks/load_test.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "measured_at": benchlib.now_iso(),
        "machine": {
            **machine,
            "load_average_1m_end": round(os.getloadavg()[0], 2),
            "shared": "clients, server and other work share the same 2 cores",
        },
        "images": source,
        "server": {
            "settings": "config.settings.production",
            "precision": args.precision,
            "precision_active": (health.get("model") or {}).get("inference_precision"),
            "workers": args.workers,
            "threads": args.threads,
            "torch_threads": args.torch_threads,
        },
        "wall_s": round(wall, 1),
        "statuses": dict(statuses),
        "client_errors": dict(errors.most_common(5)),
        "rows_before": rows_before,
        "rows_after": rows_after,
        "missing_rows": missing[:20],
        "duplicated_rows": duplicated[:20],
        "rows_without_answer": unanswered_rows[:20],
        "memory": memory,
        "checks": checks,
    }
    print(
        f"{args.requests} verifications from {args.clients} clients in {wall:.1f} s "
        f"({figures['load_rps']}/s, p50 {figures['load_p50_ms']} ms, p95 {figures['load_p95_ms']} ms); "
        f"statuses {dict(statuses)}"
    )
    print(
        f"rows: {rows_before} -> {rows_after}; missing {len(missing)}, duplicated {len(duplicated)}, "
        f"without an answer {len(unanswered_rows)}"
    )
    print(
        f"server RSS: first {memory.get('first_total_mib')} MiB, last {memory.get('last_total_mib')} MiB, "
        f"max {memory.get('max_total_mib')} MiB, growth over the second half {memory.get('second_half_growth_mib')} MiB"
    )
    print("checks: " + ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in checks.items()))
    if not args.no_write:
        print(f"-> {benchlib.merge_results(figures, details, script='load_test', prefer=('load_rps', 'max'))}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
