"""Celery tasks of the registry: thin wrappers that take primary keys and call the services.

As the styleguide has it, ``services`` imports its tasks at module level and each task
imports its service in its body, when it runs. ``run_promotion`` is idempotent and
acknowledged late, so a message redelivered after a lost worker does no harm; it goes to
the default queue (re-embedding is CPU work next to the web servers).
"""

from celery import shared_task


@shared_task(name="apps.modelregistry.tasks.run_promotion", acks_late=True)
def run_promotion(promotion_id: int) -> str:
    from .services import run_promotion

    return run_promotion(promotion_id)


@shared_task(name="apps.modelregistry.tasks.fail_stale_promotions", ignore_result=True)
def fail_stale_promotions() -> int:
    from .services import fail_stale_promotions

    return fail_stale_promotions()
