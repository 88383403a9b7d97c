import datetime

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


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 instant, compared in UTC: PostgreSQL refuses offsets past ±15:59, which ISO allows."""

    def filter(self, qs, value):
        if value not in EMPTY_VALUES and value.tzinfo is not None:
            value = value.astimezone(datetime.UTC)
        return super().filter(qs, value)
