"""Training jobs: starting, running (called by the thin Celery task), cancelling, and
failing the ones whose worker died.

Every status change is a conditional UPDATE (``apps.core.jobs.transition``): the worker,
the cancel request and the stale-heartbeat sweep can race, and exactly one of them wins.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from django.conf import settings
from django.db import transaction
from pydantic import ValidationError

from apps.core import jobs
from apps.core.exceptions import Conflict, InvalidRequest
from sigverify import options as train_options

from . import feedback
from .models import TrainingJob

logger = logging.getLogger(__name__)


# What of sigverify's TrainConfig an API caller may set (all but the worker-owned paths, device,
# threads and resume), as declared there: the job's own fields, and the rest as ``options``.
JOB_FIELDS = ("epochs", "loss", "seed")
JobSettings = train_options.subset("TrainingJobSettings", JOB_FIELDS)
TrainOptions = train_options.subset(
    "TrainOptions",
    [name for name in train_options.CALLER_OPTIONS if name not in JOB_FIELDS],
    description="Other `sigverify train` options (the same names, defaults and limits); "
    "unset ones take their default. Data paths, device, threads and resuming are the worker's.",
)


class InvalidTrainingRequest(InvalidRequest):
    """A training request that cannot train (400, a message per field)."""


# --- training jobs: the web side ----------------------------------------------------------


def training_job_validate(
    *, datasets, include_references, include_reviewed, epochs, loss, seed=0, options=None
) -> dict:
    """Refuse a request that cannot train (``InvalidTrainingRequest``, messages per field);
    return its options, normalised."""
    errors = {}
    root = Path(settings.SIGVERIFY_ORGANIZED_DATA)
    for name in datasets:
        try:
            feedback.check_dataset_name(name)
        except ValueError as exc:
            errors["datasets"] = str(exc)
            break
        if not (root / name / "manifest.csv").is_file():
            errors["datasets"] = (
                f"no organised dataset {name!r} in organized_data/ (import it with `sigverify import-data`)"
            )
            break
    if not datasets and not include_references and not include_reviewed:
        errors["datasets"] = "no training data: name a dataset or include the references or reviewed verifications"
    try:
        train_options.validate_json_values(JobSettings, {"epochs": epochs, "loss": loss, "seed": seed})
    except ValidationError as exc:
        errors.update(train_options.field_errors(exc, JobSettings))
    try:
        options = train_options.validate_json_values(TrainOptions, options or {})
    except ValidationError as exc:
        errors["options"] = train_options.field_errors(exc, TrainOptions)
    if errors:
        raise InvalidTrainingRequest(errors)
    return options


def training_job_start(
    *, requested_by, datasets=(), include_references=True, include_reviewed=True, epochs, loss, seed=0, options=None
) -> TrainingJob:
    """Record a job and put it on the GPU queue once the row is committed.

    If the broker refuses it, the job is marked failed and ``apps.core.jobs.BrokerUnavailable`` raised.
    """
    datasets = list(datasets)
    options = training_job_validate(
        datasets=datasets,
        include_references=include_references,
        include_reviewed=include_reviewed,
        epochs=epochs,
        loss=loss,
        seed=seed,
        options=options,
    )
    with transaction.atomic():
        job = TrainingJob.objects.create(
            requested_by=requested_by,
            datasets=datasets,
            include_references=include_references,
            include_reviewed=include_reviewed,
            epochs=epochs,
            loss=loss,
            seed=seed,
            options=options,
        )
        transaction.on_commit(partial(jobs.enqueue, TrainingJob, job.pk))
    job.refresh_from_db()
    return job


def training_job_cancel(job: TrainingJob) -> TrainingJob:
    """A queued job is cancelled at once; a running one is asked to stop at its next batch.
    A job whose worker went silent has ended already (``Conflict``)."""
    jobs.end_stale(TrainingJob)
    job.refresh_from_db()
    if job.status == TrainingJob.Status.QUEUED and jobs.finish(
        TrainingJob, job.pk, TrainingJob.Status.CANCELLED, error="cancelled before it started"
    ):
        job.refresh_from_db()
        return job
    # Running (or it started a moment ago): ask the worker to stop at its next batch.
    updated = TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.RUNNING).update(cancel_requested=True)
    job.refresh_from_db()
    if not updated and job.is_terminal:
        raise Conflict(f"training job {job.pk} has already ended ({job.status})", code="job_finished")
    return job
