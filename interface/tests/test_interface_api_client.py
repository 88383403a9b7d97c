"""Unit tests of the API client against a fake API served over real HTTP."""

import socket
import threading

import pytest
import shapes

import api_client
from api_client import (
    ApiClient,
    ApiError,
    AuthError,
    Conflict,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerUnavailable,
    ValidationError,
)


def test_login_stores_token_and_sends_it_afterwards(fake_api):
    fake_api.on("POST", "auth/token/", json={"token": "abc123"})
    fake_api.on("GET", "auth/me/", json=shapes.me("clerk"))
    client = ApiClient(fake_api.url)

    assert client.login("clara", "pw") == "abc123"
    me = client.me()
    assert (me.username, me.roles) == ("clara", ["clerk"])
    assert me.can("verifications.add_verification") and not me.can("signers.add_signer")

    login, me = fake_api.requests
    assert login.json == {"username": "clara", "password": "pw"}
    assert "Authorization" not in login.headers
    assert me.headers["Authorization"] == "Token abc123"


def test_base_url_comes_from_environment(monkeypatch):
    monkeypatch.setenv("SIGVERIFY_API_URL", "http://api.example:9000/api/v1/")
    assert ApiClient().url("signers/") == "http://api.example:9000/api/v1/signers/"
    monkeypatch.delenv("SIGVERIFY_API_URL")
    assert ApiClient().base_url == "http://127.0.0.1:8000/api/v1"


@pytest.mark.parametrize(
    "status, error_class",
    [
        (400, ValidationError),
        (401, AuthError),
        (403, AuthError),
        (404, NotFound),
        (409, Conflict),
        (413, PayloadTooLarge),
        (429, RateLimited),
        (500, ServerUnavailable),
        (503, ServerUnavailable),
    ],
)
def test_error_status_maps_to_typed_error_with_the_api_message(fake_api, status, error_class):
    fake_api.error(
        "GET", "signers/X1/", status, "some_code", "Plain words from the API.", fields={"external_id": ["Too long."]}
    )
    with pytest.raises(error_class) as caught:
        ApiClient(fake_api.url, token="t").get_signer("X1")
    error = caught.value
    assert isinstance(error, ApiError)
    assert (error.status, error.code, error.message) == (status, "some_code", "Plain words from the API.")
    assert error.fields == {"external_id": ["Too long."]}
    assert error.field_messages() == ["external_id: Too long."]


def test_error_without_the_standard_body_still_has_a_readable_message(fake_api):
    # A proxy's page, not the API's: the one answer here outside the API's shapes, on purpose.
    fake_api.on("GET", "health/", status=502, body=b"<html>Bad gateway</html>", content_type="text/html", checked=False)
    with pytest.raises(ServerUnavailable) as caught:
        ApiClient(fake_api.url).health()
    assert caught.value.status == 502
    assert "internal problem" in caught.value.message


def test_plain_drf_detail_is_used_as_message(fake_api):
    fake_api.on("GET", "auth/me/", status=401, json={"detail": "Invalid token."}, checked=False)  # plain DRF shape
    with pytest.raises(AuthError) as caught:
        ApiClient(fake_api.url, token="old").me()
    assert caught.value.message == "Invalid token."
    assert not caught.value.is_forbidden


def test_connection_refused_is_server_unavailable():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ServerUnavailable) as caught:
        ApiClient(f"http://127.0.0.1:{port}/api/v1", timeout=2).health()
    assert caught.value.status is None
    assert caught.value.code == "unreachable"
    assert "cannot be reached" in caught.value.message


def test_every_call_has_a_timeout():
    # A server that accepts the connection but never answers.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    try:
        with pytest.raises(ServerUnavailable) as caught:
            ApiClient(f"http://127.0.0.1:{listener.getsockname()[1]}/api/v1", timeout=0.3).list_signers()
        assert caught.value.code == "timeout"
    finally:
        for conn, _ in accepted:
            conn.close()
        listener.close()


def test_timeout_is_passed_on_each_request(monkeypatch, fake_api):
    seen = []
    original = api_client.requests.Session.request

    def spy(self, method, url, **kwargs):
        seen.append((method, kwargs.get("timeout")))
        return original(self, method, url, **kwargs)

    monkeypatch.setattr(api_client.requests.Session, "request", spy)
    fake_api.on("GET", "signers/", json=shapes.page([]))
    fake_api.on("POST", "verifications/", status=201, json=shapes.verification(id=1))
    client = ApiClient(fake_api.url, token="t", timeout=4, upload_timeout=30)
    client.list_signers()
    client.verify("S1", ("q.png", b"x", "image/png"))
    assert seen == [("GET", 4), ("POST", 30)]


def test_list_signers_sends_only_filters_that_are_set(fake_api):
    fake_api.on("GET", "signers/", json=shapes.page([]))
    ApiClient(fake_api.url, token="t").list_signers(search="Smith", status="")
    assert fake_api.requests[-1].query == {"search": "Smith"}


def test_verify_sends_multipart_fields_with_the_agreed_names(fake_api, png):
    fake_api.on("POST", "verifications/", status=201, json=shapes.verification(id=9, decision="genuine"))
    image = png()
    record = ApiClient(fake_api.url, token="t").verify(
        "ACC-1", ("cheque.png", image, "image/png"), crop=(10, 20, 300, 100), cheque_reference="000123"
    )
    assert (record.id, record.decision) == (9, "genuine")
    assert [(d.reference, d.distance) for d in record.closest_first()] == [(11, 0.12), (13, 0.3), (12, 0.41)]
    sent = fake_api.received("POST", "verifications/")[0]
    assert sent.form == {"signer": "ACC-1", "crop": "10,20,300,100", "cheque_reference": "000123"}
    assert sent.files == [("image", "cheque.png", image)]


def test_verify_leaves_out_crop_and_cheque_reference_when_not_given(fake_api, png):
    fake_api.on("POST", "verifications/", status=201, json=shapes.verification(id=1))
    ApiClient(fake_api.url, token="t").verify(3, ("s.png", png(), "image/png"))
    assert fake_api.requests[-1].form == {"signer": "3"}


def test_upload_references_repeats_the_images_field(fake_api, png):
    fake_api.on(
        "POST",
        "signers/ACC-1/references/",
        status=201,
        json=shapes.upload_result(
            [shapes.reference(1, original_name="a.png")], [shapes.rejection("b.png", "no_ink", "No ink found.")]
        ),
    )
    a, b = png(), png(stroke=False)
    result = ApiClient(fake_api.url, token="t").upload_references(
        "ACC-1", [("a.png", a, "image/png"), ("b.png", b, "image/png")]
    )
    assert [r.original_name for r in result.accepted] == ["a.png"] and result.rejected[0].code == "no_ink"
    assert fake_api.requests[-1].files == [("images", "a.png", a), ("images", "b.png", b)]


def test_iter_pages_follows_next_links(fake_api):
    base = fake_api.url
    fake_api.on(
        "GET",
        "verifications/",
        handler=lambda r: fake_api.reply(
            json=shapes.page(
                [shapes.verification(id=1), shapes.verification(id=2)]
                if r.query.get("page") != "2"
                else [shapes.verification(id=3)],
                next=f"{base}/verifications/?decision=genuine&page=2" if r.query.get("page") != "2" else None,
                count=3,
            )
        ),
    )
    client = ApiClient(base, token="t")
    assert [row.id for row in client.all_verifications(decision="genuine")] == [1, 2, 3]
    assert [r.query for r in fake_api.requests] == [{"decision": "genuine"}, {"decision": "genuine", "page": "2"}]
    assert [row.id for row in client.all_verifications(limit=2, decision="genuine")] == [1, 2]


def test_references_are_read_from_their_pages_each_fetched_once(fake_api):
    base = fake_api.url
    fake_api.on(
        "GET",
        "signers/ACC-1/references/",
        handler=lambda r: fake_api.reply(
            json=shapes.page(
                [shapes.reference(1), shapes.reference(2)] if r.query.get("page") != "2" else [shapes.reference(3)],
                next=f"{base}/signers/ACC-1/references/?page=2" if r.query.get("page") != "2" else None,
                count=3,
            )
        ),
    )
    references = ApiClient(base, token="t").list_references("ACC-1")
    assert [ref.id for ref in references] == [1, 2, 3]
    assert [r.query for r in fake_api.requests] == [{}, {"page": "2"}]


def test_an_answer_in_a_shape_the_client_does_not_read_is_a_bad_response(fake_api):
    # On purpose outside the schema: what a half-upgraded server might send.
    fake_api.on("GET", "verifications/5/", json={"id": 5, "decision": "genuine"}, checked=False)
    with pytest.raises(ServerUnavailable) as caught:
        ApiClient(fake_api.url, token="t").get_verification(5)
    assert caught.value.code == "bad_response"
    assert "could not read" in caught.value.message


def test_image_endpoints_return_bytes(fake_api, png):
    image = png()
    fake_api.on("GET", "verifications/5/preprocessed/", body=image)
    fake_api.on("GET", "signers/ACC-1/references/8/image/", body=image)
    client = ApiClient(fake_api.url, token="t")
    assert client.verification_image(5, preprocessed=True) == image
    assert client.reference_image("ACC-1", 8) == image
    fake_api.on("GET", "model-versions/2/plots/roc_cedar_R5.png/", body=image)
    assert client.model_version_plot(2, "roc_cedar_R5.png") == image


def test_review_promote_training_and_logout(fake_api):
    fake_api.on("POST", "verifications/5/review/", status=201, json=shapes.review("forgery", "Pen pressure differs"))
    fake_api.on(
        "POST", "model-versions/2/promote/", status=202, json=shapes.promotion(3, "queued", shapes.brief(2, "v2"))
    )
    fake_api.on("POST", "training-jobs/", status=202, json=shapes.training_job(7, epochs=1))
    fake_api.on("POST", "training-jobs/7/cancel/", status=202, json=shapes.training_job(7, cancel_requested=True))
    fake_api.on("POST", "auth/logout/", status=204)
    client = ApiClient(fake_api.url, token="t")
    assert client.review(5, "forgery", "Pen pressure differs").final_decision == "forgery"
    assert client.promote(2).model_version.name == "v2"
    assert client.start_training({"epochs": 1}).status == "queued"
    assert client.cancel_training(7).cancel_requested
    client.logout()
    assert client.token is None
    assert [(r.method, r.path, r.json) for r in fake_api.requests] == [
        ("POST", "verifications/5/review/", {"final_decision": "forgery", "comment": "Pen pressure differs"}),
        ("POST", "model-versions/2/promote/", None),
        ("POST", "training-jobs/", {"epochs": 1}),
        ("POST", "training-jobs/7/cancel/", None),
        ("POST", "auth/logout/", None),
    ]


def test_upload_where_nothing_is_accepted_still_returns_the_reasons(fake_api, png):
    fake_api.on(
        "POST",
        "signers/ACC-1/references/",
        status=400,
        json={
            **shapes.upload_result([], [shapes.rejection("blank.png", "no_ink", "No ink found.")]),
            "error": {"code": "no_image_accepted", "message": "No image was accepted.", "fields": {}},
        },
    )
    result = ApiClient(fake_api.url, token="t").upload_references(
        "ACC-1", [("blank.png", png(stroke=False), "image/png")]
    )
    assert result.accepted == []
    assert [(r.filename, r.code, r.message) for r in result.rejected] == [("blank.png", "no_ink", "No ink found.")]


def test_signer_key_is_one_escaped_path_segment(fake_api):
    # The API refuses such external ids (the schema says so); the client must still not break the path.
    fake_api.on("GET", "signers/A%20B%3F1/", json=shapes.signer(id=1))
    assert ApiClient(fake_api.url, token="t").get_signer("A B?1").id == 1
