"""Reads of training jobs. Reading first fails the jobs whose worker died, so nobody ever
sees a dead job as ``running`` (see ``services.fail_stale_jobs``)."""

from .models import TrainingJob
from .services import fail_stale_jobs


def training_job_list():
    fail_stale_jobs()
    return TrainingJob.objects.select_related("requested_by", "model_version")


def training_job_get(pk) -> TrainingJob:
    return training_job_list().get(pk=pk)
