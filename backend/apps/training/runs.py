"""A training job as the worker runs it: train, register the model, stream progress. ``tasks``
imports this module; the lifecycle (queueing, staleness, the sweep) is ``apps.core.jobs``'s."""

from __future__ import annotations

import collections
import logging
import shutil
import threading
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.core import jobs
from apps.modelregistry import services as registry
from apps.modelregistry.runtime import prepare_worker_process
from sigverify import options as train_options

from . import feedback
from .models import TrainingJob

logger = logging.getLogger(__name__)

LOG_TAIL_LINES = 60


# --- training jobs: the worker side -------------------------------------------------------


class _Heartbeat:
    """A thread that stamps ``heartbeat_at`` and flushes the log tail every few seconds while
    a training job runs (also through long stretches with no progress: caching images,
    validation), and notices a cancel request or the job having been failed as stale.

    Every write to the job goes through ``write`` under one lock, so this process never
    writes the row from two threads at once (SQLite would refuse).
    """

    def __init__(self, job_pk, log_lines, interval=None):
        self.job_pk, self.log_lines = job_pk, log_lines
        self.interval = interval or settings.SIGVERIFY_HEARTBEAT_S
        self.stop_requested = threading.Event()
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-job-{job_pk}", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join(timeout=60)

    def should_stop(self) -> bool:
        return self.stop_requested.is_set()

    def write(self, **changes) -> None:
        """Update the running job (heartbeat and log tail included); flag a stop if it is not running."""
        changes.setdefault("heartbeat_at", timezone.now())
        changes.setdefault("log_tail", "\n".join(self.log_lines))
        with self._lock:
            rows = TrainingJob.objects.filter(pk=self.job_pk, status=TrainingJob.Status.RUNNING).update(**changes)
            cancel = rows and TrainingJob.objects.filter(pk=self.job_pk, cancel_requested=True).exists()
        if not rows or cancel:  # cancelled, or failed as stale while we were busy: stop
            self.stop_requested.set()

    def _run(self):
        try:
            while not self._done.wait(self.interval):
                try:
                    self.write()
                except Exception:  # a database hiccup must not end the heartbeat
                    logger.exception("heartbeat of training job %s failed", self.job_pk)
        finally:
            connection.close()  # this thread's own connection


def job_dir(job_pk) -> Path:
    return Path(settings.SIGVERIFY_MODELS_ROOT) / f"job-{job_pk}"


def feedback_dataset_name(job_pk) -> str:
    return f"feedback-job-{job_pk}"


def _training_data(job: TrainingJob, log) -> tuple[list[str], dict]:
    root = Path(settings.SIGVERIFY_ORGANIZED_DATA)
    dirs = [str(root / name) for name in job.datasets]
    summary = {"datasets": list(job.datasets)}
    if job.include_references or job.include_reviewed:
        export = feedback.export_labelled_data(
            feedback_dataset_name(job.pk),
            include_references=job.include_references,
            include_reviewed=job.include_reviewed,
        )
        summary["feedback"] = export.as_dict()
        log(
            f"bank data {export.path.name}: {export.references} references, {export.reviewed_genuine} reviewed "
            f"genuine, {export.reviewed_forged} reviewed forgeries, {export.writers} signers"
        )
        if export.samples:
            dirs.append(str(export.path))
    if not dirs:
        raise ValueError("no training data: the named datasets are empty and the bank has no labelled signatures")
    return dirs, summary


def run_training_job(job_pk: int, worker: str = "") -> str:
    """The body of the training task. Idempotent: only a queued job is started."""
    prepare_worker_process()
    from sigverify.train import TrainingCancelled, train

    now = timezone.now()
    if not jobs.transition(
        TrainingJob, job_pk, TrainingJob.Status.RUNNING, started_at=now, heartbeat_at=now, worker=worker[:200]
    ):
        status = TrainingJob.objects.filter(pk=job_pk).values_list("status", flat=True).first()
        logger.info("training job %s not started: status is %s", job_pk, status)
        return f"skipped ({status})"
    job = TrainingJob.objects.get(pk=job_pk)
    lines = collections.deque(maxlen=LOG_TAIL_LINES)

    def log(message: str) -> None:
        for line in str(message).splitlines():
            lines.append(f"{timezone.now():%H:%M:%S} {line}")
        logger.info("job %s: %s", job_pk, message)

    out_dir = job_dir(job_pk)
    try:
        data, summary = _training_data(job, log)  # before the heartbeat thread: it reads the database
        config = train_options.TrainConfig(
            **job.options,
            data=data,
            out_dir=str(out_dir),
            epochs=job.epochs,
            loss=job.loss,
            seed=job.seed,
            device=settings.SIGVERIFY_TRAINING_DEVICE,
            threads=settings.SIGVERIFY_WORKER_TORCH_THREADS,
        )
        with _Heartbeat(job_pk, lines) as heartbeat:
            heartbeat.write(data_summary=summary)
            history = []

            def progress(record: dict) -> None:
                history.append({k: v for k, v in record.items() if isinstance(v, (int, float, str)) or v is None})
                heartbeat.write(
                    epoch=record.get("epoch", 0),
                    current_loss=_finite(record.get("loss")),
                    val_eer=_finite(record.get("val_eer")),
                    images_per_s=_finite(record.get("images_per_s")),
                    history=_json_safe(history),
                )

            result = train(config, progress=progress, should_stop=heartbeat.should_stop, log=log)
        return register_result(job_pk, result, lines)
    except TrainingCancelled as exc:
        log(str(exc))
        jobs.finish(TrainingJob, job_pk, TrainingJob.Status.CANCELLED, error=str(exc), log_tail="\n".join(lines))
        shutil.rmtree(out_dir, ignore_errors=True)
        return "cancelled"
    except Exception as exc:
        logger.exception("training job %s failed", job_pk)
        log(f"failed: {type(exc).__name__}: {exc}")
        jobs.finish(
            TrainingJob,
            job_pk,
            TrainingJob.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            log_tail="\n".join(lines),
        )
        shutil.rmtree(out_dir, ignore_errors=True)
        return "failed"


def register_result(job_pk, result, lines) -> str:
    """Register the model dir as a new inactive version, and finish the job, in one transaction."""
    with transaction.atomic():
        job = TrainingJob.objects.select_for_update().get(pk=job_pk)
        if job.status != TrainingJob.Status.RUNNING or job.cancel_requested:
            # Failed as stale or cancelled meanwhile: that outcome stands and nothing is registered.
            if job.cancel_requested and job.status == TrainingJob.Status.RUNNING:
                jobs.finish(TrainingJob, job_pk, TrainingJob.Status.CANCELLED, error="cancelled at the end of training")
            return f"not registered ({job.status})"
        version, _created = registry.model_version_register(result.model_dir, activate=False)
        lines.append(f"{timezone.now():%H:%M:%S} registered model version {version.name} (inactive)")
        jobs.finish(
            TrainingJob,
            job_pk,
            TrainingJob.Status.SUCCEEDED,
            model_version=version,
            log_tail="\n".join(lines),
            heartbeat_at=timezone.now(),
        )
    # The model dir is all that is kept; the checkpoint and best-epoch weights were for resuming.
    for leftover in ("checkpoint.pt", "best.safetensors"):
        (Path(result.model_dir).parent / leftover).unlink(missing_ok=True)
    return "succeeded"


def _finite(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if value == value and abs(value) != float("inf") else None


def _json_safe(records):
    return [{k: (_finite(v) if isinstance(v, float) else v) for k, v in r.items()} for r in records]
