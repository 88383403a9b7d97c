import django_filters
from django_filters.constants import EMPTY_VALUES

from apps.core.jobs import seen_status_filter


class SeenStatusFilter(django_filters.ChoiceFilter):
    """``?status=`` of a run (``apps.core.jobs.Run``) as readers see it: a running row whose
    worker went silent counts as the end the stale sweep gives it."""

    def filter(self, qs, value):
        if value in EMPTY_VALUES:
            return qs
        return qs.filter(seen_status_filter(qs.model, value))
