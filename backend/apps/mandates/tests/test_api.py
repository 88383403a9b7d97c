"""Accounts, signatories, mandates and cheque decisions through the API."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings

from apps.mandates.models import BankAccount, ChequeDecision, Mandate, Signatory
from testsupport.cheques import cheque_bytes
from testsupport.uploads import media_files, upload

pytestmark = pytest.mark.django_db

MANDATE_2_OF_A = {"bands": [{"up_to": None, "any_of": [[{"group": "A", "count": 2}]]}], "reason": "board resolution"}


def decide(client, data: bytes, account="12345678", amount="100.00", **extra):
    body = {"account": account, "amount": amount, "image": upload(data, "cheque.png"), **extra}
    return client.post("/api/v1/cheques/", body, format="multipart", **extra.pop("headers", {}))


# --- accounts and signatories ---------------------------------------------------------------------


def test_integrator_creates_an_account_and_clerk_reads_it(client_for):
    integrator, clerk = client_for("integrator"), client_for("clerk")
    response = integrator.post("/api/v1/accounts/", {"number": "12345678", "name": "Example Ltd"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "active" and response.json()["mandate"] is None
    assert clerk.get("/api/v1/accounts/12345678/").json()["name"] == "Example Ltd"
    assert clerk.post("/api/v1/accounts/", {"number": "9", "name": "x"}, format="json").status_code == 403
    assert clerk.patch("/api/v1/accounts/12345678/", {"name": "y"}, format="json").status_code == 403
    again = integrator.post("/api/v1/accounts/", {"number": "12345678", "name": "Other"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "account_exists"


def test_patch_changes_flags_and_instruction(client_for):
    integrator = client_for("integrator")
    integrator.post("/api/v1/accounts/", {"number": "ACC-9", "name": "Nine"}, format="json")
    response = integrator.patch(
        "/api/v1/accounts/ACC-9/", {"always_refer": True, "instruction": "Call Ms Smith first"}, format="json"
    )
    assert response.status_code == 200, response.json()
    account = BankAccount.objects.get(number="ACC-9")
    assert account.always_refer and account.instruction == "Call Ms Smith first"
    bad = integrator.patch("/api/v1/accounts/ACC-9/", {"status": "sleeping"}, format="json")
    assert bad.status_code == 400 and "status" in bad.json()["error"]["fields"]
    assert integrator.get("/api/v1/accounts/NOPE/").status_code == 404


def test_account_fields_are_checked(client_for):
    integrator = client_for("integrator")
    response = integrator.post("/api/v1/accounts/", {"number": "12/34", "name": "Slash"}, format="json")
    assert response.status_code == 400 and "number" in response.json()["error"]["fields"]
    response = integrator.post("/api/v1/accounts/", {"number": "1234"}, format="json")
    assert response.status_code == 400 and "name" in response.json()["error"]["fields"]
    assert not BankAccount.objects.exists()


def test_signatories_add_list_delete(client_for, signatories_enrolled):
    integrator, clerk = client_for("integrator"), client_for("clerk")
    integrator.post("/api/v1/accounts/", {"number": "A1", "name": "One"}, format="json")
    integrator.post("/api/v1/accounts/", {"number": "A2", "name": "Two"}, format="json")
    body = {"signer": "DIR-1", "group": "A", "limit": "5000.00", "valid_from": "2026-01-01", "valid_until": None}
    response = integrator.post("/api/v1/accounts/A1/signatories/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["limit"] == "5000.00" and response.json()["signer_name"] == "Director 1"
    # one signer signs for several accounts
    assert integrator.post("/api/v1/accounts/A2/signatories/", {"signer": "DIR-1"}, format="json").status_code == 201
    assert integrator.post("/api/v1/accounts/A1/signatories/", {"signer": "DIR-1"}, format="json").status_code == 409
    listed = clerk.get("/api/v1/accounts/A1/signatories/").json()
    assert [s["signer"] for s in listed] == ["DIR-1"]
    assert clerk.post("/api/v1/accounts/A1/signatories/", {"signer": "DIR-2"}, format="json").status_code == 403
    unknown = integrator.post("/api/v1/accounts/A1/signatories/", {"signer": "NOBODY"}, format="json")
    assert unknown.status_code == 400 and "signer" in unknown.json()["error"]["fields"]
    dates = {"signer": "DIR-2", "valid_from": "2026-02-01", "valid_until": "2026-01-01"}
    backwards = integrator.post("/api/v1/accounts/A1/signatories/", dates, format="json")
    assert backwards.status_code == 400 and "valid_until" in backwards.json()["error"]["fields"]
    assert clerk.delete("/api/v1/accounts/A1/signatories/DIR-1/").status_code == 403
    assert integrator.delete("/api/v1/accounts/A1/signatories/DIR-1/").status_code == 204
    assert integrator.delete("/api/v1/accounts/A1/signatories/DIR-1/").status_code == 404
    assert Signatory.objects.filter(account__number="A2").count() == 1


# --- mandates -----------------------------------------------------------------------------------


def test_mandate_is_set_audited_and_described(client_for, two_of_three):
    integrator, clerk = client_for("integrator"), client_for("clerk")
    body = {
        "bands": [
            {"up_to": "1000", "any_of": [[{"group": "A", "count": 1}]]},
            {"up_to": None, "any_of": [[{"group": "A", "count": 2}], [{"group": "*", "count": 3}]]},
        ],
        "reason": "new resolution",
    }
    response = integrator.put("/api/v1/accounts/12345678/mandate/", body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["words"] == [
        "Up to 1,000.00: 1 of group A",
        "Above 1,000.00: 2 of group A, or 3 signatories of any group",
    ]
    history = clerk.get("/api/v1/accounts/12345678/mandate/").json()
    assert [m["reason"] for m in history] == ["new resolution", "board resolution 2026-01"]
    assert history[0]["previous_bands"] == history[1]["bands"]
    assert history[0]["changed_by"] == integrator.user.username
    assert clerk.put("/api/v1/accounts/12345678/mandate/", body, format="json").status_code == 403


@pytest.mark.parametrize(
    ("bands", "field"),
    [
        ([{"up_to": None, "any_of": [[{"group": "Z", "count": 1}]]}], "bands[0].any_of[0][0].group"),
        ([{"up_to": None, "any_of": [[{"group": "A", "count": 4}]]}], "bands[0].any_of[0][0].count"),
        (
            [
                {"up_to": "500", "any_of": [[{"group": "A", "count": 1}]]},
                {"up_to": "500", "any_of": [[{"group": "A", "count": 2}]]},
            ],
            "bands[1].up_to",
        ),
        (
            [
                {"up_to": None, "any_of": [[{"group": "A", "count": 1}]]},
                {"up_to": "500", "any_of": [[{"group": "A", "count": 2}]]},
            ],
            "bands[0].up_to",
        ),
        ([{"up_to": "-5", "any_of": [[{"group": "A", "count": 1}]]}], "bands[0].up_to"),
        ([{"up_to": None, "any_of": []}], "bands[0].any_of"),
        ("two of three", "bands"),
    ],
)
def test_bad_mandates_get_400_naming_the_field(client_for, two_of_three, bands, field):
    integrator = client_for("integrator")
    response = integrator.put("/api/v1/accounts/12345678/mandate/", {"bands": bands, "reason": "x"}, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"], response.json()
    assert Mandate.objects.filter(account=two_of_three).count() == 1


def test_bands_read_in_words_before_they_are_set_and_nothing_is_stored(client_for, two_of_three):
    integrator = client_for("integrator")
    bands = [
        {"up_to": "1000", "any_of": [[{"group": "A", "count": 1}]]},
        {"up_to": None, "any_of": [[{"group": "A", "count": 2}], [{"group": "*", "count": 3}]]},
    ]
    response = integrator.post("/api/v1/accounts/12345678/mandate/words/", {"bands": bands}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "words": ["Up to 1,000.00: 1 of group A", "Above 1,000.00: 2 of group A, or 3 signatories of any group"]
    }
    unknown = [{"up_to": None, "any_of": [[{"group": "Z", "count": 1}]]}]
    response = integrator.post("/api/v1/accounts/12345678/mandate/words/", {"bands": unknown}, format="json")
    assert response.status_code == 400 and "bands[0].any_of[0][0].group" in response.json()["error"]["fields"]
    assert Mandate.objects.filter(account=two_of_three).count() == 1


def test_a_mandate_change_needs_a_reason(client_for, two_of_three):
    response = client_for("integrator").put(
        "/api/v1/accounts/12345678/mandate/", {**MANDATE_2_OF_A, "reason": " "}, format="json"
    )
    assert response.status_code == 400 and "reason" in response.json()["error"]["fields"]


# --- cheques ------------------------------------------------------------------------------------


def test_cheque_answers_the_decision_and_logs_it(client_for, two_of_three):
    clerk = client_for("clerk")
    response = decide(clerk, cheque_bytes([(1, False), (2, False)]), cheque_reference="000777")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["decision"] in {"pay", "refer", "return"}
    assert len(body["signatures"]) == 2
    for signature in body["signatures"]:
        assert set(signature) >= {"box", "signer", "decision", "score"}
        assert len(signature["box"]) == 4 and {c["signer"] for c in signature["candidates"]} == {
            "DIR-1",
            "DIR-2",
            "DIR-3",
        }
    assert set(body["mandate"]) == {"band", "satisfied", "reasons"} and body["mandate"]["band"] == 0
    row = ChequeDecision.objects.get(pk=body["id"])
    assert row.cheque_reference == "000777" and row.amount == Decimal("100.00")
    listed = clerk.get("/api/v1/cheques/", {"account": "12345678", "decision": body["decision"]}).json()
    assert [item["id"] for item in listed["results"]] == [body["id"]]
    assert clerk.get("/api/v1/cheques/", {"account": "999"}).json()["results"] == []
    assert clerk.get(f"/api/v1/cheques/{body['id']}/image/").status_code == 200


def test_cheque_input_errors_name_the_field_and_store_nothing(client_for, two_of_three):
    clerk = client_for("clerk")
    page = cheque_bytes([(1, False)])
    files_before = media_files(settings.MEDIA_ROOT)
    for amount in ("abc", "-1", "0", "1.005", "NaN"):
        response = decide(clerk, page, amount=amount)
        assert response.status_code == 400 and "amount" in response.json()["error"]["fields"], (amount, response.json())
    missing = decide(clerk, page, account="00000000")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "account_not_found"
    not_image = decide(clerk, b"this is not an image")
    assert not_image.status_code == 400 and not_image.json()["error"]["code"] == "not_an_image"
    no_image = clerk.post("/api/v1/cheques/", {"account": "12345678", "amount": "1"}, format="multipart")
    assert no_image.status_code == 400 and "image" in no_image.json()["error"]["fields"]
    assert not ChequeDecision.objects.exists()
    assert media_files(settings.MEDIA_ROOT) == files_before


def test_cheque_permissions(client_for, anon_client, two_of_three):
    page = cheque_bytes([(1, False)])
    assert decide(anon_client, page).status_code in (401, 403)
    assert decide(client_for("ml_staff"), page).status_code == 403
    assert decide(client_for("integrator"), page).status_code == 201


def test_idempotency_key_replays_the_first_answer(client_for, two_of_three):
    clerk = client_for("clerk")
    page = cheque_bytes([(1, False), (2, False)])

    def send(data=page, key="cheque-key-1"):
        body = {"account": "12345678", "amount": "100.00", "image": upload(data, "c.png")}
        return clerk.post("/api/v1/cheques/", body, format="multipart", HTTP_IDEMPOTENCY_KEY=key)

    first, second = send(), send()
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert first.json()["id"] == second.json()["id"]
    assert ChequeDecision.objects.count() == 1
    assert send(cheque_bytes([(1, False)])).status_code == 422
    assert ChequeDecision.objects.count() == 1


def test_always_refer_account(client_for, two_of_three):
    two_of_three.always_refer = True
    two_of_three.save()
    body = decide(client_for("clerk"), cheque_bytes([(1, False), (2, False)])).json()
    assert body["decision"] == "refer" and "account marked always refer" in body["mandate"]["reasons"]


def test_review_pay_return_park(client_for, two_of_three):
    clerk = client_for("clerk")
    cheque = decide(clerk, cheque_bytes([(1, False)])).json()
    url = f"/api/v1/cheques/{cheque['id']}/review/"
    assert clerk.post(url, {"outcome": "park"}, format="json").status_code == 400  # parking needs a comment
    assert clerk.post(url, {"outcome": "park", "comment": "call the customer"}, format="json").status_code == 201
    assert clerk.post(url, {"outcome": "pay"}, format="json").status_code == 201
    again = clerk.post(url, {"outcome": "return"}, format="json")
    assert again.status_code == 409
    reviews = clerk.get(f"/api/v1/cheques/{cheque['id']}/").json()["reviews"]
    assert [r["outcome"] for r in reviews] == ["pay", "park"]
    assert client_for("integrator").post(url, {"outcome": "pay"}, format="json").status_code == 403
