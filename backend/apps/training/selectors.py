"""Reads of training jobs. Nothing here writes: a job whose worker died is shown as ended by
``TrainingJob.as_seen()`` (the serializer) and ``seen_status_filter`` (the status filter),
and the one sweep of runs (``apps.core.jobs.sweep``, Celery beat) writes it."""

from django.db.models import QuerySet

from .models import TrainingJob


def training_job_list() -> QuerySet[TrainingJob]:
    return TrainingJob.objects.select_related("requested_by", "model_version")


def training_job_get(pk) -> TrainingJob:
    return training_job_list().get(pk=pk)
