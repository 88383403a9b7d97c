"""Celery tasks of the registry: thin wrappers that take primary keys and call ``promotion``.

``ModelRegistryConfig.ready()`` registers the task with ``apps.core.jobs`` (which queues it and
sweeps the promotions whose worker was lost), so no import runs in a cycle. ``run_promotion`` is idempotent and
acknowledged late, so a message redelivered after a lost worker does no harm; it goes to
the default queue (re-embedding is CPU work next to the web servers).
"""

from celery import shared_task

from . import promotion


@shared_task(name="apps.modelregistry.tasks.run_promotion", acks_late=True)
def run_promotion(promotion_id: int) -> str:
    return promotion.run_promotion(promotion_id)
