#!/usr/bin/env python
"""Where one POST /api/v1/verifications/ spends its time beyond the model, in process.

    nice -n 10 .venv/bin/python benchmarks/request_overhead.py [--requests 50] [--profile]

Runs the backend in this process (``config.settings.test``, a throwaway SQLite database; no
gunicorn, no network), registers the shipped model, enrolls a signer with 5 references, warms up,
then sends --requests verifications through Django's test client with a token (as an integrator
does). Each request is cut into parts by timing the functions that do them:

- ``model``: ``embed_arrays`` (the forward pass);
- ``decode + preprocess``: ``services.verification_preprocess`` (image decode, crop, preprocessing);
- ``checks + scoring``: the rest of ``verification_create`` before storing (signer state, active
  version, references, classifier, score and decision);
- ``store file + row``: ``save_with_file``;
- ``HTTP layer``: the rest of the request (middleware, token auth, DRF parsing of the multipart
  body, serializers, idempotency, the answer's JSON, logging).

SQL statements are counted and timed across all of them and listed for one request (the same
statement twice shows as a repeated query). --profile adds cProfile's 25 costliest functions of
the whole request, by their own time (--sort cumulative: the 40 costliest by time inside them). Prints a table; writes nothing. SQLite, not PostgreSQL:
the query count is what transfers, a query's time does not.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import time
from collections import defaultdict

import benchlib  # puts backend/ on sys.path

REPO = benchlib.REPO
benchlib.in_process_backend("bench-overhead-")


class Timers:
    def __init__(self):
        self.spent = defaultdict(float)

    def wrap(self, owner, name: str, label: str) -> None:
        real = getattr(owner, name)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                self.spent[label] += time.perf_counter() - started

        setattr(owner, name, timed)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="also print cProfile's costliest functions")
    parser.add_argument(
        "--sort", choices=("tottime", "cumulative"), default="tottime", help="--profile's order: own or cumulative time"
    )
    args = parser.parse_args(argv)

    import django

    django.setup()
    import torch
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.test import APIClient

    torch.set_num_threads(args.torch_threads)
    call_command("migrate", interactive=False, verbosity=0)
    from apps.accounts.services import token_issue, user_create_with_roles
    from apps.modelregistry.services import model_version_register
    from apps.modelregistry.serving import get_verifier
    from apps.signers.services import references_enroll, signer_create
    from apps.verifications import services

    version, _ = model_version_register(benchlib.shipped_model_dir(), activate=True)
    user = user_create_with_roles("bench", "bench-Strong-123", roles=["integrator"])
    references, (query_name, query), source = benchlib.signature_images(5)
    signer = signer_create(external_id="BENCH-1", full_name="Bench Signer")
    references_enroll(signer=signer, files=[SimpleUploadedFile(n, d) for n, d in references], user=user)
    client = APIClient(SERVER_NAME="localhost")  # an allowed host outside pytest
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user).key}")

    def post(i: int):
        response = client.post(
            "/api/v1/verifications/",
            {"signer": "BENCH-1", "image": SimpleUploadedFile(query_name, query), "cheque_reference": f"C-{i}"},
            format="multipart",
        )
        if response.status_code != 201:
            raise RuntimeError(f"{response.status_code}: {response.content[:300]}")

    for i in range(3):  # warm-up: the model loads on the first
        post(-1 - i)

    timers = Timers()
    timers.wrap(get_verifier(version), "embed_arrays", "model")
    timers.wrap(services, "verification_preprocess", "decode + preprocess")
    timers.wrap(services, "save_with_file", "store file + row")
    timers.wrap(services, "verification_create", "service")
    queries: list[tuple[str, float]] = []

    def record(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append((sql, time.perf_counter() - started))

    totals, per_request_queries, listing = [], [], []
    profile = cProfile.Profile() if args.profile else None
    with connection.execute_wrapper(record):
        for i in range(args.requests):
            before = len(queries)
            started = time.perf_counter()
            if profile:
                profile.enable()
            post(i)
            if profile:
                profile.disable()
            totals.append(time.perf_counter() - started)
            per_request_queries.append(len(queries) - before)
            if i == 0:
                listing = [sql for sql, _ in queries[before:]]

    n = args.requests
    spent = {k: v / n for k, v in timers.spent.items()}
    total = statistics.fmean(totals)
    service = spent.pop("service")
    inside = spent["model"] + spent["decode + preprocess"] + spent["store file + row"]
    rows = [
        ("model (embed_arrays)", spent["model"]),
        ("decode + preprocess", spent["decode + preprocess"]),
        ("checks + scoring", service - inside),
        ("store file + row", spent["store file + row"]),
        ("HTTP layer (DRF, auth, idempotency, JSON)", total - service),
    ]
    sql_time = sum(t for _, t in queries) / n
    machine = benchlib.machine_info()
    print(
        f"{n} requests, {source}; {machine['cpu']}, load {machine['load_average_1m']}, torch threads {args.torch_threads}"
    )
    print(f"{'part':45s} {'ms':>8s} {'share':>7s}")
    for label, seconds in rows:
        print(f"{label:45s} {1000 * seconds:8.2f} {100 * seconds / total:6.1f}%")
    print(f"{'whole request (mean)':45s} {1000 * total:8.2f}")
    print(f"{'whole request (median)':45s} {1000 * statistics.median(totals):8.2f}")
    print(f"SQL: {statistics.fmean(per_request_queries):.1f} statements per request, {1000 * sql_time:.2f} ms (SQLite)")
    counts = defaultdict(int)
    for sql in listing:
        counts[sql] += 1
    print("statements of one request (xN: repeated):")
    for sql, count in counts.items():
        print(f"  {'x' + str(count) if count > 1 else '  '} {sql[:150]}")
    if profile:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(args.sort).print_stats(40 if args.sort == "cumulative" else 25)
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
