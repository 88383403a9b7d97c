#!/usr/bin/env python
"""End-to-end speed of POST /api/v1/verifications/ on the real server, and baseline 1.

    nice -n 10 .venv/bin/python benchmarks/end_to_end.py

1. Baseline 1, "anchor" (how public reference implementations serve a pair): per request the
   model is loaded from disk (no sha256 check, which favours the anchor) and both images, the
   questioned one and one reference, are decoded, preprocessed and embedded. Timed in-process,
   without HTTP, so the anchor's figure is a lower bound and the speedup a conservative one.
2. The real server (``benchlib.BenchServer``): gunicorn, config.settings.production, a
   throwaway PostgreSQL database, SIGVERIFY_INFERENCE_PRECISION as chosen. A signer is enrolled
   with 5 references through the API, then:
   - one client: --requests sequential verifications via benchmarks/verify_latency.py
     -> verify_p50_ms, verify_p95_ms;
   - 4 concurrent clients: --concurrent-requests verifications -> verify_rps_4_clients.
   speedup_vs_anchor = anchor median ms / verify_p50_ms.
Figures are merged into benchmarks/results/<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import benchlib
import verify_latency


def anchor_latency(model_dir: Path, query: bytes, reference: bytes, requests: int, threads: int) -> dict:
    import numpy as np

    from sigverify.inference import Verifier, limit_threads

    limit_threads(threads)
    times = []
    for _ in range(requests + 1):
        started = time.perf_counter()
        verifier = Verifier.from_dir(model_dir, precision="fp32", verify=False)
        q, _, _ = verifier.embed(query)
        r, _, _ = verifier.embed(reference)
        distance = 1.0 - float(np.dot(q, r))
        verifier.decide(verifier.score(q, r[None, :]).score)
        times.append(1000 * (time.perf_counter() - started))
        del verifier
    times = times[1:]  # the first one also pays imports and the cold page cache
    return {
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(benchlib.percentile(times, 95), 1),
        "requests": requests,
        "torch_threads": threads,
        "last_distance": round(distance, 4),
    }


def concurrent_run(server, signer: str, image: tuple[str, bytes], clients: int, total: int) -> dict:
    local = threading.local()

    def one(i):
        if not hasattr(local, "session"):
            local.session = server.session()
        started = time.perf_counter()
        response = local.session.post(
            f"{server.url}/api/v1/verifications/",
            data={"signer": signer, "cheque_reference": f"E2E-C{clients}-{i}"},
            files={"image": image},
            timeout=120,
        )
        return response.status_code, 1000 * (time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(pool.map(one, range(total)))
    wall = time.perf_counter() - started
    ok = [ms for code, ms in results if code == 201]
    return {
        "clients": clients,
        "requests": total,
        "ok": len(ok),
        "statuses": {str(c): sum(1 for code, _ in results if code == c) for c in sorted({c for c, _ in results})},
        "wall_s": round(wall, 2),
        "rps": round(len(ok) / wall, 1),
        "p50_ms": round(benchlib.percentile(ok, 50), 1),
        "p95_ms": round(benchlib.percentile(ok, 95), 1),
    }


def default_precision() -> str:
    """The fast path embed_speed.py chose today, else bf16 (the Verifier falls back to fp32
    on CPUs without bf16)."""
    path = benchlib.results_path()
    if path.is_file():
        chosen = json.loads(path.read_text()).get("embed_fast_precision_setting")
        if chosen:
            return chosen
    return "bf16"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=benchlib.shipped_model_dir())
    parser.add_argument("--precision", choices=("fp32", "bf16"), default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="gunicorn threads per worker")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch threads per worker")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--concurrent-requests", type=int, default=200)
    parser.add_argument("--anchor-requests", type=int, default=10)
    parser.add_argument("--anchor-threads", type=int, default=2)
    parser.add_argument("--compare-fp32", action="store_true", help="also measure one client on an fp32 server")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    precision = args.precision or default_precision()

    references, query, source = benchlib.signature_images(5)
    machine = benchlib.machine_info()
    print(f"images: {source}; {machine['cpu']}, load {machine['load_average_1m']}")

    anchor = anchor_latency(args.model_dir, query[1], references[0][1], args.anchor_requests, args.anchor_threads)
    print(
        f"anchor (load model + embed both images per request): median {anchor['median_ms']} ms, "
        f"p95 {anchor['p95_ms']} ms"
    )

    def measure(server_precision: str) -> dict:
        with benchlib.BenchServer(
            args.model_dir,
            precision=server_precision,
            workers=args.workers,
            threads=args.threads,
            torch_threads=args.torch_threads,
            label="e2e",
        ) as server:
            benchlib.enroll_signer(server, "BENCH-1", references)
            benchlib.warm_up(server, "BENCH-1", query)
            health = server.health()
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "latency.json"
                verify_latency.main(
                    [
                        "--url",
                        server.url,
                        "--token",
                        server.token,
                        "--signer",
                        "BENCH-1",
                        "--image",
                        str(_write(Path(tmp), query)),
                        "--requests",
                        str(args.requests),
                        "--warmup",
                        "3",
                        "--out",
                        str(out),
                    ]
                )
                single = json.loads(out.read_text())
            four = concurrent_run(server, "BENCH-1", query, clients=4, total=args.concurrent_requests)
            print(
                f"  4 clients: {four['rps']} verifications/s (p50 {four['p50_ms']} ms, p95 {four['p95_ms']} ms, "
                f"statuses {four['statuses']})"
            )
            return {
                "single_client": single,
                "four_clients": four,
                "health_model": health.get("model"),
                "gunicorn": server.gunicorn_argv()[3:],
            }

    main_run = measure(precision)
    active = (main_run["health_model"] or {}).get("inference_precision")
    compare = measure("fp32") if args.compare_fp32 and precision != "fp32" else None

    p50 = main_run["single_client"]["median_ms"]
    figures = {
        "verify_p50_ms": p50,
        "verify_p95_ms": main_run["single_client"]["p95_ms"],
        "verify_rps_4_clients": main_run["four_clients"]["rps"],
        "verify_precision": active,
        "anchor_ms": anchor["median_ms"],
        "speedup_vs_anchor": round(anchor["median_ms"] / p50, 1),
    }
    if compare:
        figures["verify_p50_ms_fp32"] = compare["single_client"]["median_ms"]
        figures["verify_rps_4_clients_fp32"] = compare["four_clients"]["rps"]
    details = {
        "command": "benchmarks/end_to_end.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "measured_at": benchlib.now_iso(),
        "machine": {
            **machine,
            "load_average_1m_end": round(os.getloadavg()[0], 2),
            "shared": "other work ran on the same 2 cores; client and server share them too",
        },
        "images": source,
        "server": {
            "settings": "config.settings.production",
            "database": "PostgreSQL 127.0.0.1:5432 (throwaway db)",
            "precision_requested": precision,
            "precision_active": active,
            "workers": args.workers,
            "threads": args.threads,
            "torch_threads": args.torch_threads,
        },
        "anchor": anchor,
        "run": main_run,
        "fp32_run": compare,
    }
    print(
        f"one client: p50 {p50} ms, p95 {figures['verify_p95_ms']} ms ({active}); "
        f"4 clients {figures['verify_rps_4_clients']}/s; anchor {anchor['median_ms']} ms "
        f"-> x{figures['speedup_vs_anchor']} vs anchor"
    )
    if not args.no_write:
        print(f"-> {benchlib.merge_results(figures, details, script='end_to_end', prefer=('verify_p50_ms', 'min'))}")
    return 0


def _write(folder: Path, image: tuple[str, bytes]) -> Path:
    path = folder / image[0]
    path.write_bytes(image[1])
    return path


if __name__ == "__main__":
    sys.exit(main())
