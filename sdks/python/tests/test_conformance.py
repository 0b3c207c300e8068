"""Runs sdks/conformance/cases.json against the Python SDK, once with ``Latchkey`` (sync) and once
with ``AsyncLatchkey``: the real local server, a loopback stand-in, and webhook vectors."""

from __future__ import annotations

import asyncio
import json
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest

import latchkey
from latchkey import AsyncLatchkey, Latchkey, LatchkeyError, WebhookVerificationError, verify_webhook
from standin import Standin

SPEC: Dict[str, Any] = json.loads((Path(__file__).parents[2] / "conformance" / "cases.json").read_text())
LATCHKEY_URL = os.environ.get("LATCHKEY_URL", "")


def fill(value: Any) -> Any:
    return value.replace("{latchkey_url}", LATCHKEY_URL) if isinstance(value, str) else value


def lookup(value: Any, path: str) -> Any:
    current = value
    for seg in path.split("."):
        if current is None:
            return None
        if isinstance(current, dict):
            current = current.get(seg)
        else:
            current = getattr(current, seg, None)
    if isinstance(current, datetime):
        return current.isoformat()
    if isinstance(current, tuple):
        return list(current)
    return current


def credential_value(name: str) -> Any:
    definition = SPEC["credentials"][name]
    if "value" in definition:
        return definition["value"]
    if "env" in definition:
        value = os.environ.get(definition["env"])
        assert value, f"{definition['env']} must be set (sdks/test.sh sets it)"
        return value
    prefix = definition["function"]
    count = [0]

    def next_token() -> str:
        count[0] += 1
        return f"{prefix}{count[0]}"

    return next_token


def _iterate_sync(it: Any) -> List[Any]:
    return list(it)


async def _iterate_async(it: Any) -> List[Any]:
    return [x async for x in it]


def call(client: Any, name: str, args: Dict[str, Any], is_async: bool) -> Any:
    """The SDK call for `name`; for the async client, an awaitable."""
    a = args
    if name == "get_token":
        return client.get_token(
            a["connector"],
            subject=a["subject"],
            installation_id=a.get("installation_id"),
            scopes=a.get("scopes"),
            resources=a.get("resources"),
            authorization_details=a.get("authorization_details"),
            allow_broader=a.get("allow_broader"),
            force_refresh=a.get("force_refresh", False),
        )
    if name == "create_link_token":
        return client.create_link_token(end_user=a["end_user"], connectors=a.get("connectors"), connection_id=a.get("connection_id"), redirect_url=a.get("redirect_url"))
    if name == "exchange_public_token":
        return client.exchange_public_token(a["public_token"])
    if name == "create_session":
        return client.create_session(consumer_id=a["consumer_id"], redirect_uri=fill(a["redirect_uri"]), settings=a.get("settings"))
    if name == "connections_list":
        return client.connections.list(consumer_id=a["consumer_id"], limit=a.get("limit"), cursor=a.get("cursor"))
    if name == "connections_iterate":
        it = client.connections.iterate(consumer_id=a["consumer_id"], limit=a.get("limit"))
        return _iterate_async(it) if is_async else _iterate_sync(it)
    if name == "connections_get":
        return client.connections.get(a["connection_id"])
    if name == "connections_delete":
        return client.connections.delete(a["connection_id"])
    if name == "connections_import":
        return client.connections.import_connection(
            consumer_id=a["consumer_id"], connector=a["connector"], credentials=a["credentials"], scopes=a.get("scopes"), metadata=a.get("metadata")
        )
    if name == "connections_configure":
        return client.connections.configure(a["connection_id"], a["settings"])
    filters = {k: a.get(k) for k in ("action", "connection_id", "since", "until", "limit")}
    if name == "audit_list":
        return client.audit.list(**filters, cursor=a.get("cursor"))
    if name == "audit_iterate":
        it = client.audit.iterate(**filters)
        return _iterate_async(it) if is_async else _iterate_sync(it)
    if name == "proxy":
        response = client.proxy(
            a["connector"],
            a["path"],
            subject=a["subject"],
            method=a.get("method", "GET"),
            installation_id=a.get("installation_id"),
            retries=a.get("retries", 0),
            json_body=a.get("json"),
            content=a.get("text"),
        )

        def shape(r: Any) -> Dict[str, Any]:
            try:
                body: Any = r.json()
            except ValueError:
                body = r.text
            return {"status": r.status_code, "body": body}

        if is_async:

            async def wait() -> Dict[str, Any]:
                return shape(await response)

            return wait()
        return shape(response)
    if name == "revoke_access_token":
        result = client.revoke_access_token(a["access_token"])
        if is_async:

            async def wrap() -> Dict[str, Any]:
                return {"revoked": await result}

            return wrap()
        return {"revoked": result}
    if name == "request":
        return client.request(a["method"], a["path"], raw_body=a.get("raw_body"), json_body=a.get("json"))
    raise AssertionError(f"unknown call {name}")


def partial(actual: Any, expected: Any, where: str) -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for k, v in expected.items():
            partial(actual.get(k), v, f"{where}.{k}")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


class Ctx:
    def __init__(self, standin: Optional[Standin]) -> None:
        self.standin = standin
        self.token_requests = 0
        self.credentials: Dict[str, Any] = {}

    def credential(self, name: str) -> Any:
        if name not in self.credentials:
            self.credentials[name] = credential_value(name)
        return self.credentials[name]


def check(expect: Dict[str, Any], result: Any, error: Optional[BaseException], ctx: Ctx) -> None:
    if "error" in expect:
        e = expect["error"]
        assert error is not None, f"expected error {e['code']}, got {result!r}"
        assert isinstance(error, LatchkeyError), repr(error)
        assert error.code == e["code"]
        if "status" in e:
            assert error.status == e["status"]
        if "class" in e:
            assert type(error).__name__ == e["class"]
            assert isinstance(error, getattr(latchkey, e["class"]))
        if "retry_after" in e:
            assert error.retry_after == e["retry_after"]
        if "details" in e:
            partial(error.details, e["details"], "details")
    elif error is not None:
        raise error
    if expect.get("ok"):
        assert error is None
    for path, v in (expect.get("result") or {}).items():
        assert lookup(result, path) == fill(v), f"result.{path}: {lookup(result, path)!r} != {fill(v)!r}"
    for path, v in (expect.get("result_prefix") or {}).items():
        got = lookup(result, path)
        assert isinstance(got, str) and got.startswith(fill(v)), f"result.{path} = {got!r}"
    items = result if isinstance(result, list) else getattr(result, "data", None)
    if "result_ids" in expect:
        assert [lookup(i, "id") for i in items] == expect["result_ids"]  # type: ignore[union-attr]
    if "result_contains" in expect:
        wanted = expect["result_contains"]
        assert any(all(lookup(i, p) == v for p, v in wanted.items()) for i in items), f"no item has {wanted}: {items!r}"  # type: ignore[union-attr]
    for path, v in (expect.get("result_every") or {}).items():
        for i in items:  # type: ignore[union-attr]
            assert lookup(i, path) == v, f"every item's {path}: {i!r}"
    if "requests" in expect:
        assert ctx.standin is not None
        assert len(ctx.standin.requests) == expect["requests"], f"{len(ctx.standin.requests)} requests"
    if "token_requests" in expect:
        assert ctx.token_requests == expect["token_requests"]
    if "last_request" in expect:
        assert ctx.standin is not None and ctx.standin.requests, "no request was made"
        last = ctx.standin.requests[-1]
        want = dict(expect["last_request"])
        headers = want.pop("headers", None)
        absent = want.pop("absent_headers", [])
        body = want.pop("json", None) if "json" in want else ...
        partial(last, want, "request")
        for k, v in (headers or {}).items():
            assert last["headers"].get(k.lower()) == v, f"header {k}"
        for k in absent:
            assert k.lower() not in last["headers"], f"header {k} is not sent"
        if body is not ...:
            assert last["json"] == body
    for name in expect.get("secrets_not_shown") or []:
        if name.startswith("result."):
            secret = lookup(result, name[7:])
        elif name in SPEC["credentials"]:
            secret = ctx.credential(name)
        else:
            secret = name
        if not isinstance(secret, str) or not secret:
            continue
        for thing in (result, error):
            if thing is None:
                continue
            for shown in (repr(thing), str(thing)):
                assert secret not in shown, f"a secret ({name}) is shown in {shown[:80]}"


def _client_options(case: Dict[str, Any]) -> Dict[str, Any]:
    opts = case.get("client") or {}
    out: Dict[str, Any] = {"token_cache": opts.get("token_cache", True)}
    if "cache_buffer_seconds" in opts:
        out["cache_buffer_seconds"] = opts["cache_buffer_seconds"]
    return out


def run_sync(case: Dict[str, Any], base_url: str, ctx: Ctx, clock: List[float], default_credential: str) -> None:
    import httpx

    def count(request: httpx.Request) -> None:
        if request.url.path.startswith("/v1/token/"):
            ctx.token_requests += 1

    clients: Dict[str, Latchkey] = {}
    try:
        for step in case["steps"]:
            if "advance_clock" in step:
                clock[0] += step["advance_clock"]
                continue
            name = step.get("credential") or (case.get("client") or {}).get("credential") or default_credential
            if name not in clients:
                http = httpx.Client(event_hooks={"request": [count]}, timeout=10)
                clients[name] = Latchkey(base_url, ctx.credential(name), http_client=http, clock=lambda: clock[0], **_client_options(case))
            client = clients[name]
            n = step.get("concurrent", 1)

            def one() -> Tuple[Any, Optional[BaseException]]:
                try:
                    return call(client, step["call"], step.get("args") or {}, False), None
                except LatchkeyError as error:
                    return None, error

            if n == 1:
                outcomes = [one()]
            else:
                with ThreadPoolExecutor(max_workers=n) as pool:
                    outcomes = list(pool.map(lambda _: one(), range(n)))
            for result, error in outcomes:
                check(step.get("expect") or {}, result, error, ctx)
    finally:
        for c in clients.values():
            c._http.close()


async def run_async(case: Dict[str, Any], base_url: str, ctx: Ctx, clock: List[float], default_credential: str) -> None:
    import httpx

    async def count(request: httpx.Request) -> None:
        if request.url.path.startswith("/v1/token/"):
            ctx.token_requests += 1

    clients: Dict[str, AsyncLatchkey] = {}
    try:
        for step in case["steps"]:
            if "advance_clock" in step:
                clock[0] += step["advance_clock"]
                continue
            name = step.get("credential") or (case.get("client") or {}).get("credential") or default_credential
            if name not in clients:
                http = httpx.AsyncClient(event_hooks={"request": [count]}, timeout=10)
                clients[name] = AsyncLatchkey(base_url, ctx.credential(name), http_client=http, clock=lambda: clock[0], **_client_options(case))
            client = clients[name]

            async def one() -> Tuple[Any, Optional[BaseException]]:
                try:
                    return await call(client, step["call"], step.get("args") or {}, True), None
                except LatchkeyError as error:
                    return None, error

            outcomes = await asyncio.gather(*(one() for _ in range(step.get("concurrent", 1))))
            for result, error in outcomes:
                check(step.get("expect") or {}, result, error, ctx)
    finally:
        for c in clients.values():
            await c._http.aclose()


_setup_done = False


def setup_server() -> None:
    global _setup_done
    assert LATCHKEY_URL, "LATCHKEY_URL must be set (sdks/test.sh starts the server)"
    if not _setup_done:
        run_sync({"steps": SPEC["setup"]}, LATCHKEY_URL, Ctx(None), [0.0], "secret_key")
        _setup_done = True


CASES = [(c, mode) for c in SPEC["cases"] for mode in (("sync", "async") if c["target"] != "webhook" else ("-",))]


@pytest.mark.parametrize("case,mode", CASES, ids=[f"{mode}: {c['name']}" for c, mode in CASES])
def test_conformance(case: Dict[str, Any], mode: str) -> None:
    if case["target"] == "webhook":
        w = case["webhook"]
        kwargs: Dict[str, Any] = {"now": w["now"]}
        if "tolerance_seconds" in w:
            kwargs["tolerance_seconds"] = w["tolerance_seconds"]
        if case["expect"]["ok"]:
            event = verify_webhook(w["secret"], w["headers"], w["body"], **kwargs)
            for path, v in (case["expect"].get("event") or {}).items():
                assert lookup(event, path) == v, path
        else:
            with pytest.raises(WebhookVerificationError) as raised:
                verify_webhook(w["secret"], w["headers"], w["body"], **kwargs)
            assert raised.value.reason == case["expect"]["reason"]
            assert w["secret"] not in str(raised.value)
        return
    import time

    clock = [time.time()]
    if case["target"] == "standin":
        standin = Standin(case["standin"], now=lambda: clock[0])
        try:
            ctx = Ctx(standin)
            if mode == "sync":
                run_sync(case, standin.url, ctx, clock, "standin_key")
            else:
                asyncio.run(run_async(case, standin.url, ctx, clock, "standin_key"))
        finally:
            standin.close()
        return
    setup_server()
    ctx = Ctx(None)
    if mode == "sync":
        run_sync(case, LATCHKEY_URL, ctx, clock, "secret_key")
    else:
        asyncio.run(run_async(case, LATCHKEY_URL, ctx, clock, "secret_key"))
