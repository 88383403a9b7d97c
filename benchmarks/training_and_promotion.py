#!/usr/bin/env python
"""A real training job and a real promotion, through the API, timed.

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python benchmarks/training_and_promotion.py \
        --dataset cedar --epochs 2 --references 500

Starts what production runs (gunicorn, config.settings.production, a throwaway PostgreSQL
database, Redis) plus one Celery worker for both queues, then:

1. enrolls --references reference signatures through the API (genuine images of the
   organised dataset, read in place from organized_data/<dataset>/);
2. POST /api/v1/training-jobs/ on organized_data/<dataset>/ and polls the job to its end:
   wall time from the POST, the trainer's own time, best validation EER, images/s;
3. POST /api/v1/model-versions/{id}/promote/ with the new version and polls the promotion:
   the time to re-embed every reference and switch.

The figures are printed and merged into benchmarks/results/<date>.json. Before the job,
the active model is the shipped one (trained_model_parameters/) when present, else a
random-weights model of the same input size (its quality does not matter here).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

from benchlib import REPO, BenchServer, machine_info, merge_results, now_iso, shipped_model_dir
from sigverify.options import TrainConfig
from testsupport.servers import start_celery_worker


def initial_model_dir(input_size) -> Path:
    shipped = shipped_model_dir()
    if (shipped / "model.safetensors").is_file():
        return shipped
    from sigverify.model import SignatureEmbedder
    from sigverify.preprocess import PREPROCESS_VERSION
    from sigverify.weights import save_model

    target = Path(tempfile.mkdtemp(prefix="sigverify-bench-model-"))
    save_model(
        SignatureEmbedder(),
        target,
        {
            "name": "bench-random",
            "version": "0",
            "input_size": list(input_size),
            "preprocess_version": PREPROCESS_VERSION,
            "scoring": {},
            "thresholds": {"eer": 0.5, "accept": 0.6, "reject": 0.4},
        },
    )
    return target


def reference_images(dataset: Path, count: int) -> dict[str, list[Path]]:
    """writer -> genuine image paths, round-robin over writers until ``count`` images."""
    by_writer: dict[str, list[Path]] = {}
    with open(dataset / "manifest.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["label"] == "genuine":
                by_writer.setdefault(row["writer"], []).append(dataset / row["path"])
    chosen: dict[str, list[Path]] = {w: [] for w in by_writer}
    total, depth = 0, 0
    while total < count and depth < max(len(v) for v in by_writer.values()):
        for writer, paths in by_writer.items():
            if depth < len(paths) and total < count:
                chosen[writer].append(paths[depth])
                total += 1
        depth += 1
    return {w: p for w, p in chosen.items() if p}


def poll(session, url: str, done, timeout: float, interval: float = 2.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = session.get(url, timeout=30).json()
        if done(body):
            return body
        time.sleep(interval)
    raise RuntimeError(f"timed out polling {url}: {body}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="cedar", help="organised dataset in organized_data/")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--loss", default="triplet-semihard")
    parser.add_argument("--input-size", type=int, nargs=2, default=TrainConfig.model_fields["input_size"].default)
    parser.add_argument("--references", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=6 * 3600)
    args = parser.parse_args()

    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        sys.exit("set REDIS_URL: the benchmark runs the production set-up (Redis broker)")
    dataset = REPO / "organized_data" / args.dataset
    if not (dataset / "manifest.csv").is_file():
        sys.exit(f"no organised dataset at {dataset}: run `sigverify import-data` first")

    model_dir = initial_model_dir(args.input_size)
    with tempfile.TemporaryDirectory(prefix="sigverify-bench-models-") as models_root:
        extra = {
            "REDIS_URL": redis_url,
            "SIGVERIFY_ORGANIZED_DATA": str(REPO / "organized_data"),
            "SIGVERIFY_MODELS_ROOT": models_root,
            "SIGVERIFY_WORKER_TORCH_THREADS": str(os.cpu_count() or 2),
            "SIGVERIFY_GPU_QUEUE": "bench-gpu",
            "SIGVERIFY_DEFAULT_QUEUE": "bench-default",
        }
        with BenchServer(model_dir, precision="fp32", label="training", extra_env=extra) as server:
            log_path = server.workdir / "worker.log"
            worker = start_celery_worker(server.env(), log_path, queues="bench-gpu,bench-default")
            try:
                return run(server, args, dataset)
            finally:
                os.killpg(worker.pid, 15)
                worker.wait(timeout=60)


def run(server, args, dataset: Path) -> int:
    session = server.session()
    refs = reference_images(dataset, args.references)
    t0 = time.monotonic()
    for writer, paths in refs.items():
        external_id = f"bench-{writer}"
        response = session.post(
            f"{server.url}/api/v1/signers/",
            json={"external_id": external_id, "full_name": f"Writer {writer}"},
            timeout=30,
        )
        response.raise_for_status()
        for start in range(0, len(paths), 20):
            files = [("images", (p.name, p.read_bytes())) for p in paths[start : start + 20]]
            response = session.post(f"{server.url}/api/v1/signers/{external_id}/references/", files=files, timeout=600)
            response.raise_for_status()
    enrolled = sum(len(p) for p in refs.values())
    enroll_s = time.monotonic() - t0
    print(f"enrolled {enrolled} references of {len(refs)} writers in {enroll_s:.1f} s", flush=True)

    request = {
        "datasets": [args.dataset],
        "include_references": False,
        "include_reviewed": False,
        "epochs": args.epochs,
        "loss": args.loss,
        "options": {"input_size": list(args.input_size)},
    }
    t0 = time.monotonic()
    response = session.post(f"{server.url}/api/v1/training-jobs/", json=request, timeout=60)
    if response.status_code != 202:
        raise RuntimeError(f"training job: {response.status_code} {response.text[:500]}")
    job_url = f"{server.url}/api/v1/training-jobs/{response.json()['id']}/"
    job = poll(session, job_url, lambda j: j["status"] not in ("queued", "running"), args.timeout, interval=5)
    job_s = time.monotonic() - t0
    if job["status"] != "succeeded":
        raise RuntimeError(f"training job {job['status']}: {job['error']}\n{job['log_tail']}")
    version = session.get(f"{server.url}/api/v1/model-versions/{job['model_version']['id']}/", timeout=30).json()
    recipe = version["card"].get("recipe", {})
    print(f"training job: {job_s:.0f} s wall, best val EER {recipe.get('best_val_eer')}", flush=True)

    t0 = time.monotonic()
    response = session.post(f"{server.url}/api/v1/model-versions/{version['id']}/promote/", timeout=60)
    if response.status_code != 202:
        raise RuntimeError(f"promote: {response.status_code} {response.text[:500]}")
    promotion = poll(
        session,
        f"{server.url}/api/v1/promotions/{response.json()['id']}/",
        lambda p: p["status"] in ("succeeded", "failed"),
        3600,
        interval=1,
    )
    promote_s = time.monotonic() - t0
    if promotion["status"] != "succeeded":
        raise RuntimeError(f"promotion failed: {promotion['error']}")
    print(f"promotion of {promotion['done']} references: {promote_s:.1f} s", flush=True)

    figures = {
        "training_job_wall_s": round(job_s, 1),
        "training_job_best_val_eer": recipe.get("best_val_eer"),
        "promotion_references": promotion["done"],
        "promotion_wall_s": round(promote_s, 1),
    }
    details = {
        "measured_at": now_iso(),
        "machine": machine_info(),
        "dataset": args.dataset,
        "request": request,
        "epochs_run": recipe.get("epochs_run"),
        "trainer_seconds": recipe.get("training_seconds"),
        "device": recipe.get("device"),
        "history": job["history"],
        "thresholds": version["thresholds"],
        "validation_metrics": version["metrics"].get("validation"),
        "enroll_s": round(enroll_s, 1),
    }
    path = merge_results(figures, details, script="training_and_promotion")
    for key, value in figures.items():
        print(f"  {key:<28} {value}")
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
