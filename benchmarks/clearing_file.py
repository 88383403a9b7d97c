#!/usr/bin/env python
"""What importing a clearing file costs: items per second, and memory that does not grow with the file.

    nice -n 10 .venv/bin/python benchmarks/clearing_file.py [--items 1000 --small 200 --torch-threads 2 --every 100]

Writes image cash letters with ``x937.writer`` (group 4 TIFF fronts of drawn cheques, two genuine
signatures of a two-of-three account's directors, in 8 variants), accepts each as the API does
(``services.accept_clearing_file``: the streaming validation pass and the sha256, timed as
``accept_s``) and runs it with the Celery task's body (``runs.run_clearing_file``) in this process:
every check is decided by the mandates app's ``cheque_decide`` with the shipped model, as a worker
does. The task runs the same function; its queueing adds one message per file, not per item.
A throwaway SQLite database and media folder are used; nothing else is touched.

Printed per file (``--items``; with ``--small N`` first a file of N items too):
- ``items_per_s`` (the run, decisions included) and ``accept_s``;
- ``traced_peak_mb``: the peak of Python allocations during the run (tracemalloc), the figure that
  would grow if the file, its images or its items were held;
- ``rss_peak_mb``: the process's peak resident memory after the run (getrusage; it includes torch and
  the model, and never falls, so the larger file adding nothing shows no growth);
- ``samples``: every ``--every`` items, the Python allocations held then (tracemalloc, MB; as the run
  leaves them, garbage in reference cycles included, which the run collects every ``runs.COLLECT_EVERY``
  items), those still reachable (after a full collection here), the resident memory then (RSS,
  /proc/self/statm) and its peak so far (MiB): flat from the first sample to the last when memory does
  not grow with the file;
- ``growth_per_1000``: the slope of each series over the samples after the first (least squares), in
  MB per 1000 items: about 0 when memory does not grow with the file.
Figures are merged into benchmarks/results/<date>.json.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import time
import tracemalloc
from pathlib import Path

import benchlib  # puts backend/ on sys.path

REPO = benchlib.REPO
WORK = benchlib.in_process_backend("bench-clearing-")


def rss_mb() -> float:
    """Peak resident memory so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_now_mb() -> float:
    """Resident memory now (Linux), in the unit of ``rss_mb`` (MiB)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1048576


def slope_per_1000(points: list[tuple[int, float]]) -> float | None:
    """Least-squares slope of (items, MB) points, in MB per 1000 items."""
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return round(1000 * sum((x - mx) * (y - my) for x, y in points) / sxx, 3) if sxx else None


def set_up(torch_threads: int):
    import django

    django.setup()
    import torch
    from django.core.management import call_command

    torch.set_num_threads(torch_threads)
    call_command("migrate", interactive=False, verbosity=0)
    from apps.accounts.services import user_create_with_roles
    from apps.modelregistry.services import model_version_register
    from testsupport.cheques import account_with_signatories

    model_version_register(REPO / "trained_model_parameters", activate=True)
    user = user_create_with_roles("bench", "bench-Strong-123", roles=["integrator"])
    account_with_signatories(
        user, "12345678", "Bench Trading Ltd", (1, 2, 3), references=4, reason="bench", size=(204, 110)
    )
    return user


def cheque_images(variants: int = 8) -> list[bytes]:
    import numpy as np
    from PIL import Image

    from sigverify.synthetic_signatures import draw_signature
    from testsupport.synthetic_data import draw_cheque
    from x937.writer import g4_tiff

    images = []
    for variant in range(variants):
        blank, _ = draw_cheque(variant, size=(1200, 550), signature=Image.new("L", (8, 8), 255))
        page = np.asarray(blank).copy()
        for index, writer in enumerate((1 + variant % 3, 1 + (variant + 1) % 3)):
            drawn = np.asarray(draw_signature(writer, 20 + variant, size=(204, 110)))
            x, y = 624 + index * 264, 297
            page[y : y + 110, x : x + 204] = np.minimum(page[y : y + 110, x : x + 204], drawn)
        images.append(g4_tiff(Image.fromarray(page)))
    return images


def write_file(path: Path, count: int, images: list[bytes], tag: int) -> None:
    from x937.writer import CashLetterWriter, CheckItem

    with path.open("wb") as out, CashLetterWriter(out, encoding="ebcdic") as writer:
        writer.write_items(
            CheckItem(10_000 + n, f"12345678/{n:06d}", f"{tag}{n:08d}", images[n % len(images)])
            for n in range(1, count + 1)
        )


def import_file(path: Path, user, every: int) -> dict:
    from django.core.files.uploadedfile import UploadedFile

    from apps.clearing import runs, services
    from apps.clearing.models import ClearingItem
    from apps.core import jobs

    jobs.enqueue = lambda model, pk: True  # this process runs the task's body itself, below
    samples = []
    beat = jobs.beat

    def sampling_beat(model, pk, attempt, items_read):  # the run's per-item heartbeat, observed
        if items_read % every == 0:
            held = round(tracemalloc.get_traced_memory()[0] / 1e6, 3)
            gc.collect()
            live = round(tracemalloc.get_traced_memory()[0] / 1e6, 3)
            samples.append((items_read, held, live, round(rss_now_mb(), 1), round(rss_mb(), 1)))
        return beat(model, pk, attempt, items_read=items_read)

    runs.jobs.beat = sampling_beat

    started = time.perf_counter()
    with path.open("rb") as stream:
        row, _ = services.accept_clearing_file(
            upload=UploadedFile(stream, name=path.name, size=path.stat().st_size), user=user
        )
    accept_s = time.perf_counter() - started
    tracemalloc.start()
    started = time.perf_counter()
    try:
        outcome = runs.run_clearing_file(row.pk, worker="bench")
    finally:
        runs.jobs.beat = beat
    run_s = time.perf_counter() - started
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    items = ClearingItem.objects.filter(clearing_file=row)
    row.refresh_from_db()
    return {
        "outcome": outcome,
        "items": row.items_total,
        "decided": items.filter(status="decided").count(),
        "decisions": {d: items.filter(decision=d).count() for d in ("pay", "refer", "return")},
        "file_mb": round(path.stat().st_size / 1e6, 2),
        "accept_s": round(accept_s, 2),
        "run_s": round(run_s, 1),
        "items_per_s": round(row.items_total / run_s, 2),
        "traced_peak_mb": round(traced_peak / 1e6, 1),
        "rss_peak_mb": round(rss_mb(), 1),
        "totals_reconciled": row.totals_reconciled,
        "samples": samples,  # (items read, traced MB held, traced MB reachable, RSS MiB now, peak RSS MiB)
        "growth_per_1000": {
            "traced_mb": slope_per_1000([(n, held) for n, held, _, _, _ in samples[1:]]),
            "traced_reachable_mb": slope_per_1000([(n, live) for n, _, live, _, _ in samples[1:]]),
            "rss_mb": slope_per_1000([(n, rss) for n, _, _, rss, _ in samples[1:]]),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--small", type=int, default=0, help="also a file of this many items first (0: none)")
    parser.add_argument("--every", type=int, default=100, help="sample memory every this many items")
    parser.add_argument("--torch-threads", type=int, default=2)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()

    user = set_up(args.torch_threads)
    images = cheque_images()
    from apps.mandates.services import cheque_decide

    cheque_decide(account_number="12345678", image=images[0], amount_cents=100, requested_by=user)  # model loaded
    print(f"set up; the model is loaded: rss {rss_mb():.0f} MB; work folder {WORK}")
    figures = {}
    sizes = ([args.small] if args.small else []) + [args.items]
    for tag, count in enumerate(sizes, start=1):
        path = WORK / f"clearing-{count}.icl"
        write_file(path, count, images, tag)
        result = import_file(path, user, args.every)
        figures[str(count)] = result
        print(f"{count} items: {result}", flush=True)
    large = figures[str(args.items)]
    first, last = large["samples"][0], large["samples"][-1]
    growth = large["growth_per_1000"]
    print(
        f"\n{args.items} items: {large['items_per_s']} items/s ({large['run_s']} s, {os.cpu_count()} CPUs, "
        f"torch threads {args.torch_threads}); Python allocations held at item {first[0]}: {first[1]} MB "
        f"({first[2]} MB reachable), at item {last[0]}: {last[1]} MB ({last[2]} MB reachable; peak "
        f"{large['traced_peak_mb']} MB); RSS {first[3]} -> {last[3]} MiB (peak {first[4]} -> {last[4]} MiB); "
        f"growth per 1000 items (slope after the first sample): Python allocations {growth['traced_mb']} MB held, "
        f"{growth['traced_reachable_mb']} MB reachable, RSS {growth['rss_mb']} MiB; file {large['file_mb']} MB"
    )
    if not args.no_save:
        path = benchlib.merge_results(
            {
                "clearing_items_per_s": large["items_per_s"],
                "clearing_traced_peak_mb": large["traced_peak_mb"],
                "clearing_traced_held_mb_first_sample": first[1],
                "clearing_traced_held_mb_last_sample": last[1],
                "clearing_rss_peak_mb": large["rss_peak_mb"],
                "clearing_traced_growth_mb_per_1000": growth["traced_mb"],
                "clearing_traced_reachable_growth_mb_per_1000": growth["traced_reachable_mb"],
                "clearing_rss_growth_mb_per_1000": growth["rss_mb"],
            },
            {"clearing_file": figures},
            script="clearing_file",
        )
        print(f"merged into {path}")


if __name__ == "__main__":
    main()
