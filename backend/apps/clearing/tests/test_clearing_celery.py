"""A clearing run on a real Redis and real Celery worker processes, on PostgreSQL: killed mid-file,
it is taken up again by the next worker of the same name, with no item lost or decided twice.

Runs where REDIS_URL is set (CI); skipped elsewhere, except that in CI a missing Redis or a
database other processes cannot share fails (as the verification batch tests do).
"""

from __future__ import annotations

import socket

import pytest
from django.db import connection, transaction

from apps.clearing.models import ClearingFile, ClearingItem
from apps.mandates.models import ChequeDecision
from testsupport.servers import CeleryWorkers, wait_for
from testsupport.uploads import upload

from .conftest import check, clearing_file

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

URL = "/api/v1/clearing-files/"
ITEMS = 12


@pytest.fixture(scope="module")
def workers(django_db_setup, django_db_blocker, tmp_path_factory):
    root = tmp_path_factory.mktemp("clearing-workers")
    # Only a restarted worker of the same name takes the run up.
    handle = CeleryWorkers.on_test_database(django_db_blocker, root, "test-clearing", SIGVERIFY_STALE_AFTER_S="3600")
    yield handle
    handle.stop_all()


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0] > 0


def test_a_worker_killed_mid_file_loses_and_duplicates_nothing(
    workers, settings, client_for, two_of_three, genuine_cheque
):
    settings.SIGVERIFY_DEFAULT_QUEUE = workers.queue
    try:
        first = workers.start("clearing")
        clerk = client_for("clerk")
        data = clearing_file([check(n, genuine_cheque, cents=1000 + n) for n in range(1, ITEMS + 1)])
        response = clerk.post(URL, {"file": upload(data, "kill.icl", "application/octet-stream")}, format="multipart")
        assert response.status_code == 202, response.json()
        file_id = response.json()["id"]

        # Hold the file's row once 4 items are in: the worker blocks on its next item's row (its
        # foreign key), in the middle of that item's transaction, and is killed there.
        wait_for(
            lambda: ClearingItem.objects.filter(clearing_file_id=file_id).count(),
            lambda n: n >= 4,
            first,
            240,
            "4 decided items",
        )
        with transaction.atomic():
            ClearingFile.objects.select_for_update().get(pk=file_id)
            wait_for(_waiting_on_a_lock, bool, first, 120, "the worker to block on the next item")
            first.kill_hard()
        killed_at = ClearingItem.objects.filter(clearing_file_id=file_id).count()
        assert 4 <= killed_at < ITEMS
        assert clerk.get(f"{URL}{file_id}/").json()["status"] == "running"  # nobody is left to say otherwise

        # A worker of the same name starting again takes the run up where it stopped.
        again = workers.start("clearing")
        done, _ = wait_for(
            lambda: clerk.get(f"{URL}{file_id}/").json(),
            lambda body: body["status"] in ("done", "failed"),
            again,
            300,
            "the resumed run",
        )
        assert done["status"] == "done", done["error"] + again.log_tail()
        assert done["items"] == {"total": ITEMS, "decided": ITEMS, "failed": 0} and done["attempts"] == 2
        keys = list(ClearingItem.objects.filter(clearing_file_id=file_id).values_list("key", flat=True))
        assert sorted(keys, key=int) == [str(n) for n in range(1, ITEMS + 1)]
        # One cheque decision per item: the one in flight at the kill rolled back with its item.
        decisions = ChequeDecision.objects.filter(clearing_item__clearing_file_id=file_id)
        assert decisions.count() == ChequeDecision.objects.count() == ITEMS
        references = list(decisions.values_list("cheque_reference", flat=True))
        assert len(set(references)) == ITEMS
        assert {d.amount * 100 for d in decisions} == {1000 + n for n in range(1, ITEMS + 1)}
        assert socket.gethostname() in ClearingFile.objects.get(pk=file_id).worker
    finally:
        for worker in workers.started:
            worker.stop()
