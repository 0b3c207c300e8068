"""The Python SDK beyond the shared cases: the real server's connections lifecycle and webhook
deliveries, secrets kept out of repr, transport failures, input checks."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List

import httpx
import pytest

import latchkey
from conftest import env
from latchkey import (
    ERROR_CLASSES,
    ERROR_CODES,
    AsyncLatchkey,
    AuditEvent,
    ConnectionNotFoundError,
    ConnectorNotProxyableError,
    InvalidCursorError,
    InvalidJsonError,
    Latchkey,
    LatchkeyConnectionError,
    LatchkeyError,
    ProxyPathInvalidError,
    UnauthenticatedError,
    WebhookVerificationError,
    error_from_response,
    parse_retry_after,
    reuse_seconds,
    sign_webhook,
    user,
    verify_webhook,
)


def cli(*args: str) -> Any:
    out = subprocess.run(
        [env("LATCHKEY_BIN"), "--json", *args],
        env={"LATCHKEY_DATA_DIR": env("LATCHKEY_DATA_DIR"), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out) if out.strip() else None


def test_connections_lifecycle_against_the_real_server() -> None:
    with Latchkey(env("LATCHKEY_URL"), env("LATCHKEY_SECRET_KEY")) as client:
        consumer = f"py-lifecycle-{time.time_ns()}"
        imported = client.connections.import_connection(consumer_id=consumer, connector="demo/api-key", credentials={"api_key": "py-key"})
        assert imported.id is not None and imported.id.startswith("conn_")
        assert imported.state == "callable" and imported.auth_type == "api_key" and imported.consumer_id == consumer
        assert client.connections.get(imported.id).connector == "demo/api-key"
        page = client.connections.list(consumer_id=consumer, limit=100)
        assert page.next_cursor is None, "everything on one page: no next_cursor"
        assert any(c.id == imported.id for c in page.data)
        deleted = client.connections.delete(imported.id)
        assert (deleted.id, deleted.deleted, deleted.revoked) == (imported.id, True, False)
        with pytest.raises(ConnectionNotFoundError):
            client.connections.get(imported.id)


def test_connections_really_page_and_a_cursor_continues_only_its_own_listing() -> None:
    # Three more connectors for the demo project's environment, so a page of one is not the last.
    for name in ("a", "b", "c"):
        cli("connectors", "create", "--uid", f"pypage/{name}", "--auth-mode", "api-key")
        cli("connectors", "link", "--uid", f"pypage/{name}", "--project", env("LATCHKEY_PROJECT"), "--environment", "development")
    requests: List[httpx.Request] = []
    transport = httpx.HTTPTransport()

    class Counting(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            requests.append(request)
            return transport.handle_request(request)

    consumer = f"py-pages-{time.time_ns()}"
    with Latchkey(env("LATCHKEY_URL"), env("LATCHKEY_SECRET_KEY"), http_client=httpx.Client(transport=Counting())) as client:
        first = client.connections.list(consumer_id=consumer, limit=1)
        assert len(first.data) == 1 and first.next_cursor is not None, "a page of one is not the last"
        requests.clear()
        every = [c.connector for c in client.connections.iterate(consumer_id=consumer, limit=1)]
        assert len(requests) >= 4, f"one request per page: {len(requests)}"
        assert all("cursor" in r.url.params for r in requests[1:]), "every page after the first asks from the previous one's cursor"
        for uid in ("pypage/a", "pypage/b", "pypage/c", "demo/api-key"):
            assert every.count(uid) == 1, uid
        assert every == sorted(every), "in connector order"
        with pytest.raises(InvalidCursorError):
            client.connections.list(consumer_id=consumer + "-other", cursor=first.next_cursor)


def test_link_token_and_session_do_not_show_their_secrets() -> None:
    with Latchkey(env("LATCHKEY_URL"), env("LATCHKEY_SECRET_KEY")) as client:
        link = client.create_link_token(end_user={"id": "py-user", "display_name": "Ada"}, connectors=["demo/api-key"])
        assert link.link_token.startswith("lk_link_")
        assert link.link_token not in repr(link) and link.link_token not in str(link)
        assert link.connect_url is None, "without a redirect URL the link opens only in the modal"
        page = client.create_link_token(end_user={"id": "py-user"}, connectors=["demo/api-key"], redirect_url=env("LATCHKEY_URL") + "/done")
        assert page.connect_url is not None and page.connect_url.startswith(env("LATCHKEY_URL") + "/connect?link_token=")
        session = client.create_session(consumer_id="py-user", redirect_uri=env("LATCHKEY_URL") + "/", settings={"isolation_mode": True})
        assert len(session.session_token.split(".")) == 3
        assert session.session_token not in repr(session)
        assert env("LATCHKEY_SECRET_KEY") not in repr(client)


def test_a_token_is_redacted_and_the_client_does_not_show_its_credential() -> None:
    key = env("LATCHKEY_ALICE_KEY")
    with Latchkey(env("LATCHKEY_URL"), key) as client:
        token = client.get_token("demo/api-key", subject=user("alice"))
        assert token.token_type == "api_key" and token.expires_at is None
        assert token.access_token not in repr(token)
        assert key not in repr(client) and key not in str(client)
        with pytest.raises(AttributeError):
            token.access_token = "changed"  # type: ignore[misc]


def test_the_async_client_against_the_real_server() -> None:
    async def run() -> None:
        async with AsyncLatchkey(env("LATCHKEY_URL"), env("LATCHKEY_SECRET_KEY")) as client:
            consumer = f"py-async-{time.time_ns()}"
            imported = await client.connections.import_connection(consumer_id=consumer, connector="demo/api-key", credentials={"api_key": "k"})
            ids = [c.id async for c in client.connections.iterate(consumer_id=consumer)]
            assert imported.id in ids
            assert (await client.connections.delete(imported.id or "")).deleted
        async with AsyncLatchkey(env("LATCHKEY_URL"), lambda: "lk_sk_wrong") as bad:
            with pytest.raises(UnauthenticatedError):
                await bad.get_token("demo/api-key", subject=user("alice"))

    asyncio.run(run())


def test_a_real_webhook_delivery_verifies() -> None:
    received: List[Dict[str, Any]] = []
    arrived = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            received.append({"headers": dict(self.headers.items()), "body": body})
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()
            arrived.set()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    hook = cli("webhooks", "add", "--project", env("LATCHKEY_PROJECT"), "--url", f"http://127.0.0.1:{server.server_address[1]}/hook")
    try:
        consumer = f"py-webhook-{time.time_ns()}"
        with Latchkey(env("LATCHKEY_URL"), env("LATCHKEY_SECRET_KEY")) as client:
            client.connections.import_connection(consumer_id=consumer, connector="demo/api-key", credentials={"api_key": "k"})
        assert arrived.wait(10), "no webhook within 10 s"
        delivery = received[0]
        event = verify_webhook(hook["signing_secret"], delivery["headers"], delivery["body"])
        assert event.id is not None and event.id.startswith("evt_")
        assert event.type is not None and event.type.startswith("connection.")
        assert event.payload["data"]["subject"]["id"] == consumer
        with pytest.raises(WebhookVerificationError) as wrong:
            verify_webhook("whsec_another", delivery["headers"], delivery["body"])
        assert wrong.value.reason == "signature_mismatch"
        with pytest.raises(WebhookVerificationError) as stale:
            verify_webhook(hook["signing_secret"], delivery["headers"], delivery["body"], now=event.timestamp + 301)
        assert stale.value.reason == "timestamp_out_of_tolerance"
    finally:
        cli("webhooks", "remove", "--project", env("LATCHKEY_PROJECT"), "--id", hook["id"])
        server.shutdown()
        server.server_close()


def test_sign_and_verify_agree_over_str_bytes_and_header_lists() -> None:
    body = json.dumps({"id": "evt_x", "note": "ünïcode"})
    signature = sign_webhook("s3cret", body, 1_700_000_000)
    event = verify_webhook("s3cret", [("Latchkey-Signature", signature), ("Latchkey-Event", "x.y")], body.encode(), now=1_700_000_100)
    assert event.type == "x.y" and event.payload["note"] == "ünïcode"
    assert verify_webhook("s3cret", httpx.Headers({"latchkey-signature": signature}), body, now=1_700_000_000).timestamp == 1_700_000_000
    with pytest.raises(WebhookVerificationError) as refused:
        verify_webhook("s3cret", {"latchkey-signature": signature}, json.loads(body), now=1_700_000_000)
    assert refused.value.reason == "invalid_body"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_latchkey_is_a_connection_error_without_secrets() -> None:
    secret = "lk_sk_never_printed_0123456789"
    with Latchkey(f"http://127.0.0.1:{_free_port()}", secret) as client:
        with pytest.raises(LatchkeyConnectionError) as raised:
            client.get_token("a/b", subject=user("u"))
    error = raised.value
    assert error.code == "connection_error" and error.status == 0 and error.retryable
    assert secret not in repr(error) and secret not in str(error)
    assert error.__cause__ is None and error.__suppress_context__


def test_a_slow_latchkey_times_out() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        with Latchkey(f"http://127.0.0.1:{listener.getsockname()[1]}", "lk_sk_x", timeout=0.2) as client:
            with pytest.raises(LatchkeyConnectionError, match="within 0.2 s"):
                client.connections.list(consumer_id="x")
    finally:
        listener.close()


def test_the_low_level_request_maps_errors() -> None:
    with Latchkey(env("LATCHKEY_URL"), "lk_sk_wrong") as bad, pytest.raises(UnauthenticatedError):
        bad.request("GET", "/v1/connections", query={"consumer_id": "x"})
    with Latchkey(env("LATCHKEY_URL"), env("LATCHKEY_SECRET_KEY")) as client:
        with pytest.raises(InvalidJsonError):
            client.request("POST", "/v1/link/token", raw_body="[")
        providers = client.request("GET", "/v1/providers")
        assert isinstance(providers["data"], list) and len(providers["data"]) > 10


def test_every_code_the_real_server_documents_has_its_class() -> None:
    openapi = httpx.get(env("LATCHKEY_URL") + "/v1/openapi.json").json()
    documented = openapi["components"]["schemas"]["ErrorCode"]["enum"]
    assert isinstance(documented, list) and len(documented) > 30, "the server documents its error codes"
    assert [code for code in documented if code not in ERROR_CODES] == [], "codes without a class"
    assert all(code in ERROR_CLASSES for code in documented)


def test_a_refused_proxy_call_is_in_the_audit_trail_with_its_outcome() -> None:
    since = int(time.time()) - 1
    consumer = f"py-proxy-{time.time_ns()}"
    with Latchkey(env("LATCHKEY_URL"), env("LATCHKEY_SECRET_KEY")) as client:
        connection = client.connections.import_connection(consumer_id=consumer, connector="demo/api-key", credentials={"api_key": "py-proxy-key"})
        created = cli("keys", "create", "--project", env("LATCHKEY_PROJECT"), "--environment", "development", "--user", consumer)
        user_key = created["secret_key"]
        with Latchkey(env("LATCHKEY_URL"), user_key) as as_user:
            with pytest.raises(ConnectorNotProxyableError) as refused:
                as_user.proxy("demo/api-key", "/v1/things", subject=user(consumer), method="PUT", content=b"raw", retries=3)
        assert refused.value.status == 409
        assert user_key not in repr(refused.value) and user_key not in str(refused.value) and "py-proxy-key" not in str(refused.value)
        # The local server files events from a queue, a moment after the answer.
        found = None
        for attempt in range(50):
            if attempt:
                time.sleep(0.1)
            until = datetime.now(timezone.utc) + timedelta(minutes=1)
            for event in client.audit.iterate(action="proxy_call", since=since, until=until, limit=5):
                assert event.action == "proxy_call" and event.at_ms >= since * 1000
                if event.actor_id == created["key_id"]:
                    found = event
            if found is not None:
                break
        assert isinstance(found, AuditEvent), "the refused call shows in the trail"
        assert found.id.startswith("aud_") and found.actor_kind == "secret_key" and found.environment == "development"
        assert (found.outcome, found.connector) == ("connector_not_proxyable", "demo/api-key")
        assert found.source_ip == "127.0.0.1" and found.user_agent and found.project_id == env("LATCHKEY_PROJECT")
        assert found.detail.get("method") == "PUT" and found.detail.get("status") == 409
        assert user_key not in repr(found)
        with pytest.raises(AttributeError):
            found.outcome = "ok"  # type: ignore[misc]
        imports = client.audit.list(connection_id=connection.id, action="credentials_imported")
        assert [(e.connection_id, e.connector, e.outcome) for e in imports.data] == [(connection.id, "demo/api-key", "ok")]

    async def run() -> None:
        async with AsyncLatchkey(env("LATCHKEY_URL"), env("LATCHKEY_SECRET_KEY")) as client:
            page = await client.audit.list(connection_id=connection.id, since=datetime.fromtimestamp(since, tz=timezone.utc), limit=1)
            assert [e.action for e in page.data] == ["credentials_imported"]

    asyncio.run(run())


def test_every_code_has_its_own_class_and_odd_bodies_never_raise() -> None:
    assert len(ERROR_CODES) == 58 and set(ERROR_CLASSES) == set(ERROR_CODES)
    # The one exception to the naming: not TimeoutError, which would shadow Python's built-in.
    renamed = {"timeout": "RequestTimeoutError"}
    for code in ERROR_CODES:
        error = error_from_response(400, {"error": {"code": code, "message": "m"}})
        assert type(error) is ERROR_CLASSES[code] and type(error) is not LatchkeyError
        words = "".join(w.capitalize() for w in code.split("_"))
        assert type(error).__name__ == renamed.get(code, words.removesuffix("Error") + "Error")
        assert getattr(latchkey, type(error).__name__) is type(error)
    bodies: List[Any] = [None, "text", [], {"error": "x"}, {"error": {"code": 5}}]
    for body in bodies:
        error = error_from_response(500, body, "3")
        assert type(error) is LatchkeyError and error.code == "unexpected_response" and error.retry_after == 3
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=datetime(2015, 10, 21, 7, 28, tzinfo=timezone.utc).timestamp()) == 10
    assert parse_retry_after("soon") is None


def test_reuse_seconds() -> None:
    now = 1_000_000.0

    def at(seconds: float) -> datetime:
        return datetime.fromtimestamp(now + seconds, tz=timezone.utc)

    assert reuse_seconds(at(3600), now, 60, 300) == 1800
    assert reuse_seconds(at(100), now, 60, 300) == 40
    assert reuse_seconds(at(50), now, 60, 300) == 0
    assert reuse_seconds(at(-1), now, 60, 300) == 0
    assert reuse_seconds(None, now, 60, 300) == 300


def test_input_is_checked_before_anything_is_sent() -> None:
    calls: List[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: calls.append(request) or httpx.Response(200, json={}))  # type: ignore[func-returns-value]
    with pytest.raises(TypeError):
        Latchkey("ftp://x", "k")
    with pytest.raises(TypeError):
        Latchkey("http://x", "")
    with Latchkey("http://127.0.0.1:9", "lk_sk_x", http_client=httpx.Client(transport=transport)) as client:
        with pytest.raises(TypeError):
            client.get_token("", subject=user("u"))
        with pytest.raises(TypeError):
            client.get_token("a/b", subject={"type": "user"})
        with pytest.raises(TypeError):
            client.get_token("a/b", subject={"type": "robot", "id": "x"})
        with pytest.raises(ProxyPathInvalidError):
            client.proxy("a/b", "/../v1/connections", subject=user("u"))
        with pytest.raises(ProxyPathInvalidError):
            client.proxy("a/b", "x/%2e%2e/y", subject=user("u"))
        with pytest.raises(ProxyPathInvalidError):
            client.proxy("a/b", "x/./y", subject=user("u"))
        with pytest.raises(ValueError):
            client.proxy("a/b", "x", subject=user("u"), retries=4)
        with pytest.raises(TypeError):
            client.proxy("a/b", "x", subject={"type": "user"})
        with pytest.raises(ValueError):
            client.audit.list(since=-1)
        with pytest.raises(TypeError):
            client.audit.list(until="2026-01-01T00:00:00Z")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            client.connections.list(consumer_id="")
        with pytest.raises(TypeError):
            client.exchange_public_token("")
    assert calls == []


def test_a_waiting_caller_cancelled_does_not_cancel_the_shared_request() -> None:
    hits: List[int] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        hits.append(1)
        await asyncio.sleep(0.1)
        expires = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
        return httpx.Response(200, json={"access_token": "t", "connection_id": "c", "expires_at": expires, "connector": {"uid": "a/b", "provider": "a"}})

    async def run() -> None:
        async with AsyncLatchkey("http://standin", "lk_sk_x", http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler))) as client:
            first = asyncio.ensure_future(client.get_token("a/b", subject=user("u")))
            second = asyncio.ensure_future(client.get_token("a/b", subject=user("u")))
            await asyncio.sleep(0.02)
            first.cancel()
            token = await second
            assert token.access_token == "t"
            assert (await client.get_token("a/b", subject=user("u"))).access_token == "t"
        assert len(hits) == 1

    asyncio.run(run())


def test_error_fallback_class_for_unknown_codes_keeps_the_code() -> None:
    error = error_from_response(418, {"error": {"code": "teapot", "message": "newer than the SDK", "details": {"x": 1}}}, None)
    assert isinstance(error, LatchkeyError) and error.code == "teapot" and error.details == {"x": 1} and not error.retryable
