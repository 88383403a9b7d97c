"""Clearing files on SQLite: the upload's validation, the run in this process (the Celery task is
a thin wrapper; test_clearing_celery.py runs it on a real worker and kills it), items, exports."""

from __future__ import annotations

import csv
import gc
import io
import json
import threading

import pytest

from apps.clearing import runs
from apps.clearing.models import ClearingFile, ClearingItem
from apps.mandates.models import ChequeDecision
from testsupport.uploads import media_files, upload

from .conftest import check, clearing_file

pytestmark = pytest.mark.django_db
URL = "/api/v1/clearing-files/"


def send(client, data: bytes, name: str = "cash-letter.icl"):
    return client.post(URL, {"file": upload(data, name, "application/octet-stream")}, format="multipart")


def stored_clearing_files() -> list:
    from django.conf import settings

    return sorted(p for p in media_files(settings.MEDIA_ROOT) if p.startswith("clearing-files"))


def four_items(genuine_cheque) -> bytes:
    return clearing_file(
        [
            check(1, genuine_cheque),
            check(2, genuine_cheque, account="99999999"),  # no such account
            check(3, None),  # no image
            check(4, genuine_cheque, account=""),  # On-Us "/0004": no account
        ],
        encoding="ebcdic",
    )


def run(file_id: int) -> str:
    return runs.run_clearing_file(file_id, worker="test")


def unreadable_inputs(genuine_cheque):
    whole = clearing_file([check(1, genuine_cheque), check(2, genuine_cheque)])
    return {
        "cut inside an image": (whole[: whole.index(b"52121042882") + 300], "record 7: "),
        "cut before the file control": (whole[: whole.rindex(b"99") - 4], "ends without a file control record"),
        "not a clearing file": (b"%PDF-1.4 hello", "does not start with a file header"),
        "no checks": (clearing_file([]), "holds no check"),
    }


@pytest.mark.parametrize(
    "case", ["cut inside an image", "cut before the file control", "not a clearing file", "no checks"]
)
def test_an_unreadable_file_gets_400_naming_the_record_and_nothing_is_stored(client_for, genuine_cheque, case):
    data, says = unreadable_inputs(genuine_cheque)[case]
    before = stored_clearing_files()
    response = send(client_for("clerk"), data)
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "unreadable_clearing_file" and says in error["message"]
    assert error["fields"]["file"] and ClearingFile.objects.count() == 0 and stored_clearing_files() == before


def test_every_crasher_gets_a_400_naming_its_record(client_for, shared_x9):
    client = client_for("clerk")
    before = stored_clearing_files()
    for path in sorted((shared_x9 / "crashers").iterdir()):
        response = send(client, path.read_bytes(), path.name)
        assert response.status_code == 400, (path.name, response.content[:300])
        assert response.json()["error"]["message"].startswith("The clearing file cannot be read: record ")
    assert ClearingFile.objects.count() == 0 and stored_clearing_files() == before


def test_an_empty_upload_and_a_missing_file_name_the_field(client_for):
    client = client_for("clerk")
    assert send(client, b"").json()["error"]["fields"].keys() == {"file"}
    assert client.post(URL, {}, format="multipart").json()["error"]["fields"].keys() == {"file"}


def test_a_file_is_accepted_then_each_item_is_decided_or_fails_with_its_reason(
    client_for, two_of_three, genuine_cheque
):
    clerk = client_for("clerk")
    response = send(clerk, four_items(genuine_cheque))
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "queued" and body["items"] == {"total": 4, "decided": 0, "failed": 0}
    assert (body["encoding"], body["totals_reconciled"]) == ("ebcdic", True)

    assert run(body["id"]) == "done"
    done = clerk.get(f"{URL}{body['id']}/").json()
    assert done["status"] == "done" and done["items"] == {"total": 4, "decided": 1, "failed": 3}
    assert done["progress"] == {"items_read": 4, "items_finished": 4, "fraction": 1.0}
    items = clerk.get(f"{URL}{body['id']}/items/").json()["results"]
    assert [i["key"] for i in items] == ["1", "2", "3", "4"]
    first = items[0]
    assert first["status"] == "decided" and first["decision"] in ("pay", "refer", "return")
    cheque = ChequeDecision.objects.get(pk=first["cheque"])
    assert (cheque.account.number, cheque.amount, cheque.decision) == ("12345678", 100, first["decision"])
    assert sum(done["decisions"].values()) == 1 and done["decisions"][first["decision"]] == 1
    failures = {i["key"]: i["failure"]["code"] for i in items if i["status"] == "failed"}
    assert failures == {"2": "account_not_found", "3": "image_missing", "4": "account_missing"}
    assert all(i["failure"]["reason"] for i in items[1:])
    assert ChequeDecision.objects.count() == 1

    only_failed = clerk.get(f"{URL}{body['id']}/items/", {"status": "failed"}).json()
    assert only_failed["count"] == 3
    by_decision = clerk.get(f"{URL}{body['id']}/items/", {"decision": first["decision"]}).json()
    assert [i["key"] for i in by_decision["results"]] == ["1"]
    assert clerk.get(f"{URL}{body['id']}/items/", {"decision": "maybe"}).status_code == 400


def test_a_reupload_adds_no_rows(client_for, two_of_three, genuine_cheque):
    clerk = client_for("clerk")
    data = four_items(genuine_cheque)
    first = send(clerk, data).json()
    run(first["id"])
    files_before = stored_clearing_files()
    again = send(clerk, data, "renamed.icl")
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    assert run(first["id"]).startswith("skipped")
    assert ClearingFile.objects.count() == 1 and ClearingItem.objects.count() == 4
    assert ChequeDecision.objects.count() == 1 and stored_clearing_files() == files_before


def test_a_run_stopped_midway_resumes_where_it_stopped(client_for, two_of_three, genuine_cheque, monkeypatch):
    clerk = client_for("integrator")
    data = clearing_file([check(n, genuine_cheque, cents=100 * n) for n in range(1, 6)])
    file_id = send(clerk, data).json()["id"]
    real = runs.process_item
    calls = []

    def dies_on_the_fourth(clearing_file_row, item, **kwargs):
        calls.append(item.key)
        if len(calls) == 4:
            raise OSError("disk gone")
        return real(clearing_file_row, item, **kwargs)

    monkeypatch.setattr(runs, "process_item", dies_on_the_fourth)
    assert run(file_id) == "failed"
    stopped = clerk.get(f"{URL}{file_id}/").json()
    assert stopped["status"] == "failed" and "disk gone" in stopped["error"] and stopped["items"]["decided"] == 3
    monkeypatch.setattr(runs, "process_item", real)
    assert clerk.post(f"{URL}{file_id}/resume/").status_code == 202
    assert run(file_id) == "done"
    assert clerk.post(f"{URL}{file_id}/resume/").json()["error"]["code"] == "run_done"
    keys = list(ClearingItem.objects.filter(clearing_file_id=file_id).values_list("key", flat=True))
    assert sorted(keys) == ["1", "2", "3", "4", "5"]
    assert ChequeDecision.objects.count() == 5
    assert ClearingFile.objects.get(pk=file_id).attempts == 2


def test_a_run_keeps_no_decision_alive_beyond_its_collection_window(
    client_for, two_of_three, genuine_cheque, monkeypatch
):
    """Memory stays flat: no decision is held by the run, and those Django leaves in reference cycles
    are freed every COLLECT_EVERY items (here with Python's own collections off, as a long-lived
    worker rarely runs its full ones)."""
    file_id = send(client_for("integrator"), clearing_file([check(n, genuine_cheque) for n in range(1, 6)])).json()
    monkeypatch.setattr(runs, "COLLECT_EVERY", 2)
    real, alive = runs.process_item, []
    gc.collect()
    # decisions other tests left alive (fixtures, caches) are not this run's: counted out by identity
    before = {id(o) for o in gc.get_objects() if type(o) is ChequeDecision}

    def run_decisions() -> int:
        return sum(type(o) is ChequeDecision and id(o) not in before for o in gc.get_objects())

    def counted(clearing_file_row, item, **kwargs):
        status = real(clearing_file_row, item, **kwargs)
        alive.append(run_decisions())
        return status

    monkeypatch.setattr(runs, "process_item", counted)
    gc.disable()
    try:
        assert run(file_id["id"]) == "done"
        left = run_decisions()
    finally:
        gc.enable()
    assert ChequeDecision.objects.count() == 5
    assert max(alive) <= 2 and left <= 1, (alive, left)  # never more than one window's


def test_the_next_checks_image_work_runs_ahead_on_the_pool_with_the_same_decisions(
    client_for, two_of_three, genuine_cheque, monkeypatch, settings
):
    from testsupport.uploads import blank_png

    real, threads = runs.deciding.prepare_image, set()

    def recorded(*args, **kwargs):
        threads.add(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(runs.deciding, "prepare_image", recorded)
    client = client_for("integrator")
    outcomes = {}
    for count in (1, 3):
        settings.SIGVERIFY_BATCH_THREADS = count
        threads.clear()
        checks = [check(n, genuine_cheque, cents=100 * n + count) for n in range(1, 6)]
        checks[1] = check(2, blank_png(), cents=200 + count)  # no ink: fails alone
        file_id = send(client, clearing_file(checks)).json()["id"]
        assert run(file_id) == "done"
        outcomes[count] = [
            (i.key, i.status, i.decision, i.failure_code, i.cheque and i.cheque.reasons)
            for i in ClearingItem.objects.filter(clearing_file_id=file_id).select_related("cheque").order_by("index")
        ]
        if count == 1:
            assert threads == {threading.current_thread().name}
        else:
            assert len(threads) >= 1 and all(name.startswith("sigverify-images") for name in threads)
    assert outcomes[3] == outcomes[1]
    assert [o[1] for o in outcomes[3]] == ["decided", "failed", "decided", "decided", "decided"]
    assert outcomes[3][1][3] == "no_ink"
    assert ClearingFile.objects.get(pk=file_id).items_read == 5


def test_reconciliation_differences_are_reported(client_for, two_of_three, genuine_cheque):
    data = clearing_file([check(1, genuine_cheque)], declared={"file_amount": 1})
    body = send(client_for("clerk"), data).json()
    assert body["totals_reconciled"] is False
    assert body["discrepancies"] == ["record 11 (file control): amount in cents declared 1, found 10000"]


def test_exports_carry_every_items_decision(client_for, two_of_three, genuine_cheque):
    clerk = client_for("clerk")
    file_id = send(clerk, four_items(genuine_cheque)).json()["id"]
    run(file_id)
    response = clerk.get(f"{URL}{file_id}/export/csv/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["key"] for r in rows] == ["1", "2", "3", "4"]
    assert rows[0]["decision"] in ("pay", "refer", "return") and rows[0]["amount"] == "100"
    assert [r["failure_code"] for r in rows[1:]] == ["account_not_found", "image_missing", "account_missing"]
    exported = json.loads(b"".join(clerk.get(f"{URL}{file_id}/export/json/").streaming_content))
    assert [e["key"] for e in exported] == ["1", "2", "3", "4"] and exported[2]["failure"]["code"] == "image_missing"
    only_failed = json.loads(
        b"".join(clerk.get(f"{URL}{file_id}/export/json/", {"status": "failed"}).streaming_content)
    )
    assert len(only_failed) == 3


def test_roles(client_for, anon_client, genuine_cheque):
    assert anon_client.get(URL).status_code == 401
    assert client_for("ml_staff").get(URL).status_code == 403
    assert send(client_for("ml_staff"), clearing_file([check(1, genuine_cheque)])).status_code == 403
    assert client_for("integrator").get(URL).status_code == 200


def test_a_run_reads_the_active_version_once_per_chunk(client_for, two_of_three, genuine_cheque, monkeypatch, settings):
    settings.SIGVERIFY_BATCH_CHUNK = 2
    file_id = send(client_for("integrator"), clearing_file([check(n, genuine_cheque) for n in range(1, 6)])).json()
    real, reads, used = runs.get_active_version, [], []
    monkeypatch.setattr(runs, "get_active_version", lambda: reads.append(1) or real())
    real_decide = runs.deciding.decide_cheque

    def decide(**kwargs):
        used.append(kwargs["version"])  # kept alive: their ids stay distinct
        return real_decide(**kwargs)

    monkeypatch.setattr(runs.deciding, "decide_cheque", decide)
    assert run(file_id["id"]) == "done"
    assert (
        len(reads) == 3 and len({id(v) for v in used}) == 3
    )  # 5 cheques in chunks of 2: the version (and its card) read 3 times
    assert ClearingItem.objects.filter(clearing_file_id=file_id["id"], status="decided").count() == 5
