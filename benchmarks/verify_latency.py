#!/usr/bin/env python
"""Latency of POST /api/v1/verifications/ against a running server (it starts nothing).

    .venv/bin/python benchmarks/verify_latency.py --url http://127.0.0.1:8000 \
        --username admin --password ... --signer cedar-1 --image path/to/signature.png

Sends --requests (default 100) sequential verifications after --warmup ones (which also
load the model), prints the median and 95th percentile in ms, and writes the figures as
JSON (--out, default var/benchmarks/verify_latency.json). Note that every request adds a
row to the audit log, as a real verification would.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

from benchlib import percentile


def get_token(session: requests.Session, url: str, username: str, password: str) -> str:
    response = session.post(f"{url}/api/v1/auth/token/", json={"username": username, "password": password}, timeout=30)
    if response.status_code != 200:
        sys.exit(f"login failed ({response.status_code}): {response.text[:300]}")
    return response.json()["token"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--token")
    parser.add_argument("--username")
    parser.add_argument("--password")
    parser.add_argument("--signer", required=True, help="signer id or external id (with references)")
    parser.add_argument("--image", required=True, type=Path)
    parser.add_argument("--crop", default=None, help="x,y,width,height")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("var/benchmarks/verify_latency.json"))
    args = parser.parse_args(argv)

    url = args.url.rstrip("/")
    session = requests.Session()
    token = args.token or (args.username and get_token(session, url, args.username, args.password or ""))
    if not token:
        sys.exit("give --token, or --username and --password")
    session.headers["Authorization"] = f"Token {token}"
    image = args.image.read_bytes()
    fields = {"signer": args.signer}
    if args.crop:
        fields["crop"] = args.crop

    def one() -> tuple[float, dict]:
        started = time.perf_counter()
        response = session.post(
            f"{url}/api/v1/verifications/", data=fields, files={"image": (args.image.name, image)}, timeout=60
        )
        elapsed = 1000 * (time.perf_counter() - started)
        if response.status_code != 201:
            sys.exit(f"verification failed ({response.status_code}): {response.text[:300]}")
        return elapsed, response.json()

    for _ in range(args.warmup):
        one()
    wall, server = [], []
    last = {}
    for _ in range(args.requests):
        elapsed, last = one()
        wall.append(elapsed)
        server.append(float(last.get("processing_ms", 0)))

    health = session.get(f"{url}/api/v1/health/", timeout=10).json()
    result = {
        "endpoint": "POST /api/v1/verifications/",
        "url": url,
        "requests": args.requests,
        "warmup": args.warmup,
        "image": args.image.name,
        "image_bytes": len(image),
        "median_ms": round(statistics.median(wall), 1),
        "p95_ms": round(percentile(wall, 95), 1),
        "min_ms": round(min(wall), 1),
        "max_ms": round(max(wall), 1),
        "server_processing_median_ms": round(statistics.median(server), 1),
        "model_version": last.get("model_version"),
        "inference_precision": health.get("model", {}).get("inference_precision"),
        "machine": platform.platform(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{args.requests} x POST /api/v1/verifications/: median {result['median_ms']} ms, "
        f"p95 {result['p95_ms']} ms (server-side median {result['server_processing_median_ms']} ms) -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
