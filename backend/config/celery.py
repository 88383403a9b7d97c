"""The Celery app. Configuration lives in Django settings (the ``CELERY_*`` names); the beat
schedule is here.

Start a worker with ``celery -A config worker`` from ``backend/`` (``-B`` runs beat in it);
see ``apps/training/README.md`` for the queues.
"""

import os
from pathlib import Path

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _schedule_run_sweep(sender, **_):
    # Celery beat runs the one sweep of every kind of background run (apps.core.jobs.sweep): runs
    # whose worker went silent get their end (readers see it already; this makes the rows say so),
    # resumable ones are sent again. Idempotent, so a second beat does no harm.
    from django.conf import settings

    sender.add_periodic_task(
        settings.SIGVERIFY_STALE_SWEEP_S, sender.signature("apps.core.tasks.sweep_runs"), name="sweep-runs"
    )


@app.on_after_configure.connect
def _create_filesystem_broker_folders(sender, **_):
    # kombu's file-system transport expects its folders to exist (embedded default, no Redis).
    if str(sender.conf.broker_url).startswith("filesystem:"):
        options = sender.conf.broker_transport_options or {}
        for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder"):
            if options.get(key):
                Path(options[key]).mkdir(parents=True, exist_ok=True)


@worker_process_init.connect
def _prepare_worker_child(**_):
    # Runs in each prefork child after the fork: limit torch threads there, load nothing yet.
    from apps.modelregistry.runtime import prepare_worker_process

    prepare_worker_process()
