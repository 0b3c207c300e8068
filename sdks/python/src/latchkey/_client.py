"""The Latchkey clients: :class:`Latchkey` (sync) and :class:`AsyncLatchkey` (asyncio), over httpx."""

from __future__ import annotations

import inspect
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Dict,
    Hashable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
)
from urllib.parse import quote, unquote

import httpx

from ._cache import AsyncTokenCache, TokenCache
from ._errors import LatchkeyConnectionError, LatchkeyError, ProxyPathInvalidError, error_from_response
from ._types import (
    AuditAction,
    AuditEvent,
    Connection,
    ConnectorRef,
    DeletedConnection,
    ExchangedConnection,
    LinkToken,
    Page,
    ProviderToken,
    Session,
    Subject,
    Timestamp,
)
from ._version import __version__

T = TypeVar("T")

SyncCredential = Union[str, Callable[[], str]]
AsyncCredential = Union[str, Callable[[], Union[str, Awaitable[str]]]]
QueryValue = Union[str, int, float, bool, None]

_USER_AGENT = f"latchkey-python/{__version__}"


@dataclass(frozen=True)
class _Req:
    method: str
    path: str
    query: Optional[Mapping[str, QueryValue]] = None
    body: Any = None
    raw_body: Optional[str] = None
    headers: Optional[Mapping[str, str]] = None


def _compact(values: Mapping[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _segment(value: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{what} must be a non-empty string")
    return quote(value, safe="")


def _subject_body(subject: Subject) -> Dict[str, str]:
    kind = subject.get("type") if isinstance(subject, Mapping) else None
    if kind == "user":
        sid = subject.get("id")
        if not isinstance(sid, str) or not sid:
            raise TypeError("a user subject needs its id")
        return {"type": "user", "id": sid}
    if kind == "app":
        return {"type": "app"}
    raise TypeError('subject must be {"type": "user", "id": ...} or {"type": "app"}')


def _query(values: Mapping[str, QueryValue]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def _unix_seconds(value: Optional[Timestamp], what: str) -> Optional[int]:
    """Unix seconds from a datetime (naive ones are UTC) or an int."""
    if value is None:
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        seconds = int(aware.timestamp() // 1)
    elif isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    else:
        raise TypeError(f"{what} must be a datetime or whole Unix seconds")
    if seconds < 0:
        raise ValueError(f"{what} may not be before 1970")
    return seconds


def _str(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


def _dict(value: Any) -> Dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> Tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _unexpected(what: str) -> LatchkeyError:
    return LatchkeyError(f"unexpected {what} from Latchkey", code="unexpected_response", status=200)


def _parse_time(value: str) -> datetime:
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    # Python < 3.11 accepts at most 6 fractional digits.
    if "." in text:
        head, _, tail = text.partition(".")
        digits = ""
        rest = tail
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
    return datetime.fromisoformat(text)


def _to_token(body: Any) -> ProviderToken:
    b = _dict(body)
    access_token = _str(b.get("access_token"))
    connection_id = _str(b.get("connection_id"))
    if access_token is None or connection_id is None:
        raise _unexpected("token answer")
    expires = _str(b.get("expires_at"))
    try:
        expires_at = _parse_time(expires) if expires is not None else None
    except ValueError:
        raise _unexpected("expires_at") from None
    connector = _dict(b.get("connector"))
    return ProviderToken(
        access_token=access_token,
        token_type=_str(b.get("token_type")) or "Bearer",
        expires_at=expires_at,
        scopes=_strings(b.get("scopes")),
        connection_id=connection_id,
        installation_id=_str(b.get("installation_id")),
        connector=ConnectorRef(uid=_str(connector.get("uid")) or "", provider=_str(connector.get("provider")) or ""),
        metadata=_dict(b.get("metadata")),
        user_access_token=_str(b.get("user_access_token")),
        resources=_strings(b.get("resources")) if isinstance(b.get("resources"), list) else None,
        authorization_details=(
            tuple(_dict(d) for d in b["authorization_details"]) if isinstance(b.get("authorization_details"), list) else None
        ),
    )


def _to_connection(raw: Any) -> Connection:
    c = _dict(raw)
    return Connection(
        id=_str(c.get("id")),
        connector=_str(c.get("connector")) or "",
        name=_str(c.get("name")) or "",
        provider=_str(c.get("provider")) or "",
        auth_type=_str(c.get("auth_type")) or "",
        state=_str(c.get("state")) or "",
        consumer_id=_str(c.get("consumer_id")),
        scopes=_strings(c.get("scopes")),
        metadata=_dict(c.get("metadata")),
        authorize_url=_str(c.get("authorize_url")),
        revoke_url=_str(c.get("revoke_url")),
        created_at=_str(c.get("created_at")),
        updated_at=_str(c.get("updated_at")),
    )


def _to_page(body: Any, item: Callable[[Any], T]) -> Page[T]:
    b = _dict(body)
    data = b.get("data")
    if not isinstance(data, list):
        raise _unexpected("list answer")
    return Page(data=tuple(item(d) for d in data), next_cursor=_str(b.get("next_cursor")) or None)


def _to_audit(raw: Any) -> AuditEvent:
    e = _dict(raw)
    event_id = _str(e.get("id"))
    at_ms = e.get("at_ms")
    action = _str(e.get("action"))
    if event_id is None or action is None or not isinstance(at_ms, int) or isinstance(at_ms, bool):
        raise _unexpected("audit event")
    return AuditEvent(
        id=event_id,
        at_ms=at_ms,
        action=action,
        actor_kind=_str(e.get("actor_kind")) or "",
        actor_id=_str(e.get("actor_id")) or "",
        outcome=_str(e.get("outcome")) or "",
        project_id=_str(e.get("project_id")) or "",
        environment=_str(e.get("environment")),
        connection_id=_str(e.get("connection_id")),
        connector=_str(e.get("connector")),
        source_ip=_str(e.get("source_ip")),
        user_agent=_str(e.get("user_agent")),
        detail=_dict(e.get("detail")),
    )


class _Base:
    """What both clients share: building requests and reading answers."""

    def __init__(self, base_url: str, *, timeout: float, token_cache: bool, clock: Optional[Callable[[], float]]) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise TypeError("base_url must be an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._clock: Callable[[], float] = clock or time.time
        self._credential_ids: Dict[int, Tuple[object, int]] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, credential='[redacted]')"

    # --- requests ---

    @staticmethod
    def _link_token_req(
        end_user: Mapping[str, Any],
        connectors: Optional[Sequence[str]],
        connection_id: Optional[str],
        redirect_url: Optional[str],
    ) -> _Req:
        if not isinstance(end_user, Mapping) or not isinstance(end_user.get("id"), str):
            raise TypeError('end_user must be {"id": ..., "email"?: ..., "display_name"?: ...}')
        body = _compact(
            {
                "end_user": _compact(dict(end_user)),
                "connectors": list(connectors) if connectors is not None else None,
                "connection_id": connection_id,
                "redirect_url": redirect_url,
            }
        )
        return _Req("POST", "/v1/link/token", body=body)

    @staticmethod
    def _session_req(
        consumer_id: str,
        redirect_uri: str,
        settings: Optional[Mapping[str, Any]],
        consumer_metadata: Optional[Mapping[str, Any]],
        theme: Optional[Mapping[str, Any]],
    ) -> _Req:
        body = _compact(
            {
                "consumer_id": consumer_id,
                "consumer_metadata": dict(consumer_metadata) if consumer_metadata is not None else None,
                "redirect_uri": redirect_uri,
                "settings": dict(settings) if settings is not None else None,
                "theme": dict(theme) if theme is not None else None,
            }
        )
        return _Req("POST", "/v1/sessions", body=body)

    @staticmethod
    def _token_req(
        connector: str,
        subject: Subject,
        installation_id: Optional[str],
        scopes: Optional[Sequence[str]],
        resources: Optional[Sequence[str]],
        authorization_details: Optional[Sequence[Mapping[str, Any]]],
        allow_broader: Optional[bool],
    ) -> _Req:
        body = _compact(
            {
                "subject": _subject_body(subject),
                "installation_id": installation_id,
                "scopes": list(scopes) if scopes is not None else None,
                "resources": list(resources) if resources is not None else None,
                "authorization_details": [dict(d) for d in authorization_details] if authorization_details is not None else None,
                "allow_broader": allow_broader,
            }
        )
        return _Req("POST", f"/v1/token/{_segment(connector, 'connector')}", body=body)

    @staticmethod
    def _import_req(
        consumer_id: str,
        connector: str,
        credentials: Mapping[str, Any],
        scopes: Optional[Sequence[str]],
        metadata: Optional[Mapping[str, Any]],
    ) -> _Req:
        body = _compact(
            {
                "consumer_id": consumer_id,
                "connector": connector,
                "credentials": _compact(dict(credentials)),
                "scopes": list(scopes) if scopes is not None else None,
                "metadata": dict(metadata) if metadata is not None else None,
            }
        )
        return _Req("POST", "/v1/connections/import", body=body)

    @staticmethod
    def _audit_req(
        action: Optional[AuditAction],
        connection_id: Optional[str],
        since: Optional[Timestamp],
        until: Optional[Timestamp],
        limit: Optional[int],
        cursor: Optional[str],
    ) -> _Req:
        query: Dict[str, QueryValue] = {
            "action": action,
            "connection_id": connection_id,
            "since": _unix_seconds(since, "since"),
            "until": _unix_seconds(until, "until"),
            "limit": limit,
            "cursor": cursor,
        }
        return _Req("GET", "/v1/audit", query=query)

    def _proxy_parts(
        self,
        connector: str,
        path: str,
        subject: Subject,
        installation_id: Optional[str],
        retries: int,
        headers: Optional[Mapping[str, str]],
    ) -> Tuple[str, Dict[str, str]]:
        segment = _segment(connector, "connector")
        if not isinstance(path, str):
            raise TypeError("proxy needs a path")
        path_part, _, query_part = path.lstrip("/").partition("?")
        # The server refuses `.` and `..` segments (plain or percent-encoded); refused here too,
        # since an HTTP client would resolve them before the request left.
        if any(unquote(s) in (".", "..") for s in path_part.split("/")):
            raise ProxyPathInvalidError("the proxied path may not contain . or .. segments", code="proxy_path_invalid", status=0)
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 3:
            raise ValueError("retries must be 0 to 3")
        url = f"{self.base_url}/v1/proxy/{segment}/{path_part}" + (f"?{query_part}" if query_part else "")
        sent = {k.lower(): v for k, v in (headers or {}).items() if not k.lower().startswith("x-latchkey-")}
        subject_body = _subject_body(subject)
        sent["x-latchkey-subject"] = f"user:{subject_body['id']}" if subject_body["type"] == "user" else "app"
        if installation_id is not None:
            sent["x-latchkey-installation-id"] = installation_id
        sent["x-latchkey-retries"] = str(retries)
        return url, sent

    @staticmethod
    def _proxied(response: httpx.Response) -> httpx.Response:
        """The provider's answer as it is; Latchkey's own answer as its error."""
        if response.headers.get("x-latchkey-upstream") == "true":
            return response
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        raise error_from_response(response.status_code, body, response.headers.get("retry-after"))

    # --- answers ---

    @staticmethod
    def _json_of(response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                body: Any = response.json()
            except ValueError:
                body = None
            raise error_from_response(response.status_code, body, response.headers.get("retry-after"))
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise LatchkeyError(
                f"Latchkey answered HTTP {response.status_code} with a body that is not JSON",
                code="unexpected_response",
                status=response.status_code,
            ) from None

    @staticmethod
    def _link_token_of(body: Any) -> LinkToken:
        b = _dict(body)
        token = _str(b.get("link_token"))
        if token is None:
            raise _unexpected("link token answer")
        return LinkToken(link_token=token, expires_at=_str(b.get("expires_at")) or "", connect_url=_str(b.get("connect_url")))

    @staticmethod
    def _exchanged_of(body: Any) -> ExchangedConnection:
        b = _dict(body)
        access_token = _str(b.get("access_token"))
        connection_id = _str(b.get("connection_id"))
        if access_token is None or connection_id is None:
            raise _unexpected("exchange answer")
        return ExchangedConnection(
            connection_id=connection_id, access_token=access_token, connector=_str(b.get("connector")) or "", end_user=_dict(b.get("end_user"))
        )

    @staticmethod
    def _session_of(body: Any) -> Session:
        b = _dict(body)
        token = _str(b.get("session_token"))
        if token is None:
            raise _unexpected("session answer")
        return Session(session_token=token, url=_str(b.get("url")) or "", expires_at=_str(b.get("expires_at")) or "")

    @staticmethod
    def _deleted_of(body: Any, connection_id: str) -> DeletedConnection:
        d = _dict(_dict(body).get("data"))
        return DeletedConnection(id=_str(d.get("id")) or connection_id, deleted=d.get("deleted") is True, revoked=d.get("revoked") is True)

    def _cache_key(
        self,
        credential: object,
        default: object,
        connector: str,
        subject: Subject,
        installation_id: Optional[str],
        scopes: Optional[Sequence[str]],
        resources: Optional[Sequence[str]],
        authorization_details: Optional[Sequence[Mapping[str, Any]]],
        allow_broader: Optional[bool],
    ) -> Hashable:
        cred: Hashable
        if credential is default:
            cred = 0
        elif isinstance(credential, str):
            cred = ("s", credential)
        else:
            known = self._credential_ids.get(id(credential))
            if known is None or known[0] is not credential:
                known = (credential, len(self._credential_ids) + 1)
                self._credential_ids[id(credential)] = known
            cred = ("f", known[1])
        return (
            cred,
            connector,
            subject.get("type"),
            subject.get("id") if subject.get("type") == "user" else None,
            installation_id,
            tuple(sorted(scopes)) if scopes is not None else None,
            tuple(sorted(resources)) if resources is not None else None,
            json.dumps(list(authorization_details), sort_keys=True) if authorization_details is not None else None,
            bool(allow_broader),
        )


class _Paginator:
    @staticmethod
    def check(cursor: Optional[str], seen: set) -> bool:  # type: ignore[type-arg]
        if cursor is None:
            return False
        if cursor in seen:
            raise LatchkeyError("Latchkey answered the same cursor twice", code="unexpected_response", status=200)
        seen.add(cursor)
        return True


# ---------------------------------------------------------------- sync


class Connections:
    """A consumer's connections: list (paginated), iterate, get, delete, import, configure."""

    def __init__(self, client: "Latchkey") -> None:
        self._client = client

    def list(self, *, consumer_id: str, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page[Connection]:
        if not isinstance(consumer_id, str) or not consumer_id:
            raise TypeError("connections.list needs a consumer_id")
        body = self._client._send(_Req("GET", "/v1/connections", query={"consumer_id": consumer_id, "limit": limit, "cursor": cursor}))
        return _to_page(body, _to_connection)

    def iterate(self, *, consumer_id: str, limit: Optional[int] = None) -> Iterator[Connection]:
        """Every connection, across pages."""
        seen: set = set()  # type: ignore[type-arg]
        cursor: Optional[str] = None
        while True:
            page = self.list(consumer_id=consumer_id, limit=limit, cursor=cursor)
            yield from page.data
            if not _Paginator.check(page.next_cursor, seen):
                return
            cursor = page.next_cursor

    def get(self, connection_id: str) -> Connection:
        body = self._client._send(_Req("GET", f"/v1/connections/{_segment(connection_id, 'connection_id')}"))
        return _to_connection(_dict(body).get("data"))

    def delete(self, connection_id: str) -> DeletedConnection:
        body = self._client._send(_Req("DELETE", f"/v1/connections/{_segment(connection_id, 'connection_id')}"))
        return _Base._deleted_of(body, connection_id)

    def import_connection(
        self,
        *,
        consumer_id: str,
        connector: str,
        credentials: Mapping[str, Any],
        scopes: Optional[Sequence[str]] = None,
        metadata: Optional[Mapping[str, Any]] = None,
    ) -> Connection:
        """Imports existing credentials (``access_token``, ``refresh_token``, ``expires_in``, ``api_key``, ``username``, ``password``)."""
        body = self._client._send(_Base._import_req(consumer_id, connector, credentials, scopes, metadata))
        return _to_connection(_dict(body).get("data"))

    def configure(self, connection_id: str, settings: Mapping[str, str]) -> Connection:
        """Finishes the configuration step (``{"tenant_id": ...}`` or ``{"cloud_id": ...}``)."""
        body = self._client._send(_Req("PATCH", f"/v1/connections/{_segment(connection_id, 'connection_id')}", body={"settings": dict(settings)}))
        return _to_connection(_dict(body).get("data"))


class Audit:
    """The audit log."""

    def __init__(self, client: "Latchkey") -> None:
        self._client = client

    def list(
        self,
        *,
        action: Optional[AuditAction] = None,
        connection_id: Optional[str] = None,
        since: Optional[Timestamp] = None,
        until: Optional[Timestamp] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> Page[AuditEvent]:
        body = self._client._send(_Base._audit_req(action, connection_id, since, until, limit, cursor))
        return _to_page(body, _to_audit)

    def iterate(
        self,
        *,
        action: Optional[AuditAction] = None,
        connection_id: Optional[str] = None,
        since: Optional[Timestamp] = None,
        until: Optional[Timestamp] = None,
        limit: Optional[int] = None,
    ) -> Iterator[AuditEvent]:
        seen: set = set()  # type: ignore[type-arg]
        cursor: Optional[str] = None
        while True:
            page = self.list(action=action, connection_id=connection_id, since=since, until=until, limit=limit, cursor=cursor)
            yield from page.data
            if not _Paginator.check(page.next_cursor, seen):
                return
            cursor = page.next_cursor


class Latchkey(_Base):
    """Latchkey's API (sync). Thread-safe; one per process is plenty (it holds the token cache).

    ``credential`` is a secret key, a connection access token, or a function returning a fresh
    OIDC token (called per request).
    """

    def __init__(
        self,
        base_url: str,
        credential: SyncCredential,
        *,
        timeout: float = 30.0,
        token_cache: bool = True,
        cache_buffer_seconds: float = 60,
        cache_no_expiry_ttl_seconds: float = 300,
        cache_max_entries: int = 1000,
        http_client: Optional[httpx.Client] = None,
        clock: Optional[Callable[[], float]] = None,
    ) -> None:
        super().__init__(base_url, timeout=timeout, token_cache=token_cache, clock=clock)
        if not (callable(credential) or (isinstance(credential, str) and credential)):
            raise TypeError("Latchkey needs a credential: a secret key, a connection access token or a function returning an OIDC token")
        self.__credential = credential
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout, follow_redirects=False)
        self._cache: Optional[TokenCache] = (
            TokenCache(
                buffer_seconds=cache_buffer_seconds,
                no_expiry_ttl_seconds=cache_no_expiry_ttl_seconds,
                max_entries=cache_max_entries,
                clock=self._clock,
            )
            if token_cache
            else None
        )
        self.connections = Connections(self)
        self.audit = Audit(self)

    def __enter__(self) -> "Latchkey":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def _bearer(self, credential: Optional[SyncCredential]) -> str:
        chosen = credential if credential is not None else self.__credential
        value = chosen() if callable(chosen) else chosen
        if not isinstance(value, str) or not value:
            raise TypeError("the credential function returned no token")
        return value

    def _raw(self, method: str, url: str, *, headers: Dict[str, str], content: Any = None, params: Optional[Mapping[str, str]] = None) -> httpx.Response:
        try:
            return self._http.request(method, url, headers=headers, content=content, params=params)
        except httpx.TimeoutException:
            raise LatchkeyConnectionError(f"no answer from Latchkey within {self._timeout} s") from None
        except httpx.TransportError:
            raise LatchkeyConnectionError(f"could not reach Latchkey at {self.base_url}") from None

    def _send(self, req: _Req, credential: Optional[SyncCredential] = None) -> Any:
        headers = {"accept": "application/json", "user-agent": _USER_AGENT, **{k.lower(): v for k, v in (req.headers or {}).items()}}
        content: Optional[str] = None
        if req.raw_body is not None:
            content = req.raw_body
        elif req.body is not None:
            content = json.dumps(req.body)
        if content is not None:
            headers.setdefault("content-type", "application/json")
        headers["authorization"] = f"Bearer {self._bearer(credential)}"
        params = _query(req.query) if req.query else None
        return self._json_of(self._raw(req.method, self.base_url + req.path, headers=headers, content=content, params=params))

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Optional[Mapping[str, QueryValue]] = None,
        json_body: Any = None,
        raw_body: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        credential: Optional[SyncCredential] = None,
    ) -> Any:
        """Any route (``path`` as given, starting with ``/``): the parsed JSON answer, or the mapped error."""
        if not path.startswith("/"):
            raise ValueError("the path must start with /")
        return self._send(_Req(method, path, query=query, body=json_body, raw_body=raw_body, headers=headers), credential)

    def create_link_token(
        self,
        *,
        end_user: Mapping[str, Any],
        connectors: Optional[Sequence[str]] = None,
        connection_id: Optional[str] = None,
        redirect_url: Optional[str] = None,
    ) -> LinkToken:
        """Mints a link token for one end user (``{"id", "email"?, "display_name"?}``)."""
        return self._link_token_of(self._send(self._link_token_req(end_user, connectors, connection_id, redirect_url)))

    def exchange_public_token(self, public_token: str) -> ExchangedConnection:
        """Exchanges the one-time public token for the connection's access token."""
        if not isinstance(public_token, str) or not public_token:
            raise TypeError("exchange_public_token needs the public token")
        return self._exchanged_of(self._send(_Req("POST", "/v1/link/exchange", body={"public_token": public_token})))

    def create_session(
        self,
        *,
        consumer_id: str,
        redirect_uri: str,
        settings: Optional[Mapping[str, Any]] = None,
        consumer_metadata: Optional[Mapping[str, Any]] = None,
        theme: Optional[Mapping[str, Any]] = None,
    ) -> Session:
        """A Connect session (Vault) for one consumer."""
        return self._session_of(self._send(self._session_req(consumer_id, redirect_uri, settings, consumer_metadata, theme)))

    def get_token(
        self,
        connector: str,
        *,
        subject: Subject,
        installation_id: Optional[str] = None,
        scopes: Optional[Sequence[str]] = None,
        resources: Optional[Sequence[str]] = None,
        authorization_details: Optional[Sequence[Mapping[str, Any]]] = None,
        allow_broader: Optional[bool] = None,
        force_refresh: bool = False,
        credential: Optional[SyncCredential] = None,
    ) -> ProviderToken:
        """A provider token, from the in-process cache while fresh; concurrent calls for one token make one request.

        ``scopes``, ``resources`` (RFC 8707) and ``authorization_details`` (RFC 9396) narrow it; where the
        provider cannot, ``NarrowingUnsupportedError``, or with ``allow_broader=True`` the full token (its
        ``scopes`` say what it can do)."""
        req = self._token_req(connector, subject, installation_id, scopes, resources, authorization_details, allow_broader)

        def fetch() -> ProviderToken:
            return _to_token(self._send(req, credential))

        if self._cache is None:
            return fetch()
        key = self._cache_key(
            credential if credential is not None else self.__credential,
            self.__credential,
            connector,
            subject,
            installation_id,
            scopes,
            resources,
            authorization_details,
            allow_broader,
        )
        return self._cache.get(key, fetch, force_refresh)

    def clear_token_cache(self) -> None:
        """Forgets every cached token."""
        if self._cache is not None:
            self._cache.clear()

    def proxy(
        self,
        connector: str,
        path: str,
        *,
        subject: Subject,
        method: str = "GET",
        installation_id: Optional[str] = None,
        retries: int = 0,
        headers: Optional[Mapping[str, str]] = None,
        params: Optional[Mapping[str, QueryValue]] = None,
        json_body: Any = None,
        content: Optional[Union[str, bytes]] = None,
        credential: Optional[SyncCredential] = None,
    ) -> httpx.Response:
        """Calls the provider through Latchkey's proxy (``ANY /v1/proxy/{connector}/{path}``), which injects
        the subject's credential. The provider's answer (marked ``x-latchkey-upstream: true``) comes back
        as it is, whatever its status; Latchkey's own refusals (``connector_not_proxyable``,
        ``proxy_path_invalid``, ``destination_not_allowed``, ``upstream_unreachable``, the token
        broker's codes, ...) raise their :class:`LatchkeyError`.

        ``path`` is below the connector's API base, as the provider spells it (percent-encode its
        segments yourself) and may carry a query; ``retries`` (0 to 3) asks Latchkey to retry a 429
        or 503 from the provider, honouring its Retry-After."""
        url, sent = self._proxy_parts(connector, path, subject, installation_id, retries, headers)
        body: Optional[Union[str, bytes]] = content
        if json_body is not None:
            body = json.dumps(json_body)
            sent.setdefault("content-type", "application/json")
        sent["authorization"] = f"Bearer {self._bearer(credential)}"
        return self._proxied(self._raw(method.upper(), url, headers=sent, content=body, params=_query(params) if params else None))

    def revoke_access_token(self, access_token: str) -> bool:
        """Revokes a connection access token; True when Latchkey revoked it."""
        if not isinstance(access_token, str) or not access_token:
            raise TypeError("revoke_access_token needs the access token")
        body = self._send(_Req("POST", "/v1/access-tokens/revoke", body={"access_token": access_token}))
        return _dict(body).get("revoked") is True


# ---------------------------------------------------------------- async


class AsyncConnections:
    """A consumer's connections (async)."""

    def __init__(self, client: "AsyncLatchkey") -> None:
        self._client = client

    async def list(self, *, consumer_id: str, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page[Connection]:
        if not isinstance(consumer_id, str) or not consumer_id:
            raise TypeError("connections.list needs a consumer_id")
        body = await self._client._send(_Req("GET", "/v1/connections", query={"consumer_id": consumer_id, "limit": limit, "cursor": cursor}))
        return _to_page(body, _to_connection)

    async def iterate(self, *, consumer_id: str, limit: Optional[int] = None) -> AsyncIterator[Connection]:
        seen: set = set()  # type: ignore[type-arg]
        cursor: Optional[str] = None
        while True:
            page = await self.list(consumer_id=consumer_id, limit=limit, cursor=cursor)
            for item in page.data:
                yield item
            if not _Paginator.check(page.next_cursor, seen):
                return
            cursor = page.next_cursor

    async def get(self, connection_id: str) -> Connection:
        body = await self._client._send(_Req("GET", f"/v1/connections/{_segment(connection_id, 'connection_id')}"))
        return _to_connection(_dict(body).get("data"))

    async def delete(self, connection_id: str) -> DeletedConnection:
        body = await self._client._send(_Req("DELETE", f"/v1/connections/{_segment(connection_id, 'connection_id')}"))
        return _Base._deleted_of(body, connection_id)

    async def import_connection(
        self,
        *,
        consumer_id: str,
        connector: str,
        credentials: Mapping[str, Any],
        scopes: Optional[Sequence[str]] = None,
        metadata: Optional[Mapping[str, Any]] = None,
    ) -> Connection:
        body = await self._client._send(_Base._import_req(consumer_id, connector, credentials, scopes, metadata))
        return _to_connection(_dict(body).get("data"))

    async def configure(self, connection_id: str, settings: Mapping[str, str]) -> Connection:
        body = await self._client._send(
            _Req("PATCH", f"/v1/connections/{_segment(connection_id, 'connection_id')}", body={"settings": dict(settings)})
        )
        return _to_connection(_dict(body).get("data"))


class AsyncAudit:
    """The audit log (async)."""

    def __init__(self, client: "AsyncLatchkey") -> None:
        self._client = client

    async def list(
        self,
        *,
        action: Optional[AuditAction] = None,
        connection_id: Optional[str] = None,
        since: Optional[Timestamp] = None,
        until: Optional[Timestamp] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> Page[AuditEvent]:
        body = await self._client._send(_Base._audit_req(action, connection_id, since, until, limit, cursor))
        return _to_page(body, _to_audit)

    async def iterate(
        self,
        *,
        action: Optional[AuditAction] = None,
        connection_id: Optional[str] = None,
        since: Optional[Timestamp] = None,
        until: Optional[Timestamp] = None,
        limit: Optional[int] = None,
    ) -> AsyncIterator[AuditEvent]:
        seen: set = set()  # type: ignore[type-arg]
        cursor: Optional[str] = None
        while True:
            page = await self.list(action=action, connection_id=connection_id, since=since, until=until, limit=limit, cursor=cursor)
            for item in page.data:
                yield item
            if not _Paginator.check(page.next_cursor, seen):
                return
            cursor = page.next_cursor


class AsyncLatchkey(_Base):
    """Latchkey's API (asyncio). Use it from one event loop; it holds the token cache.

    ``credential`` is a secret key, a connection access token, or a function (sync or async)
    returning a fresh OIDC token (called per request).
    """

    def __init__(
        self,
        base_url: str,
        credential: AsyncCredential,
        *,
        timeout: float = 30.0,
        token_cache: bool = True,
        cache_buffer_seconds: float = 60,
        cache_no_expiry_ttl_seconds: float = 300,
        cache_max_entries: int = 1000,
        http_client: Optional[httpx.AsyncClient] = None,
        clock: Optional[Callable[[], float]] = None,
    ) -> None:
        super().__init__(base_url, timeout=timeout, token_cache=token_cache, clock=clock)
        if not (callable(credential) or (isinstance(credential, str) and credential)):
            raise TypeError("AsyncLatchkey needs a credential: a secret key, a connection access token or a function returning an OIDC token")
        self.__credential = credential
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._cache: Optional[AsyncTokenCache] = (
            AsyncTokenCache(
                buffer_seconds=cache_buffer_seconds,
                no_expiry_ttl_seconds=cache_no_expiry_ttl_seconds,
                max_entries=cache_max_entries,
                clock=self._clock,
            )
            if token_cache
            else None
        )
        self.connections = AsyncConnections(self)
        self.audit = AsyncAudit(self)

    async def __aenter__(self) -> "AsyncLatchkey":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def _bearer(self, credential: Optional[AsyncCredential]) -> str:
        chosen = credential if credential is not None else self.__credential
        value: Any = chosen() if callable(chosen) else chosen
        if inspect.isawaitable(value):
            value = await value
        if not isinstance(value, str) or not value:
            raise TypeError("the credential function returned no token")
        return value

    async def _raw(
        self, method: str, url: str, *, headers: Dict[str, str], content: Any = None, params: Optional[Mapping[str, str]] = None
    ) -> httpx.Response:
        try:
            return await self._http.request(method, url, headers=headers, content=content, params=params)
        except httpx.TimeoutException:
            raise LatchkeyConnectionError(f"no answer from Latchkey within {self._timeout} s") from None
        except httpx.TransportError:
            raise LatchkeyConnectionError(f"could not reach Latchkey at {self.base_url}") from None

    async def _send(self, req: _Req, credential: Optional[AsyncCredential] = None) -> Any:
        headers = {"accept": "application/json", "user-agent": _USER_AGENT, **{k.lower(): v for k, v in (req.headers or {}).items()}}
        content: Optional[str] = None
        if req.raw_body is not None:
            content = req.raw_body
        elif req.body is not None:
            content = json.dumps(req.body)
        if content is not None:
            headers.setdefault("content-type", "application/json")
        headers["authorization"] = f"Bearer {await self._bearer(credential)}"
        params = _query(req.query) if req.query else None
        return self._json_of(await self._raw(req.method, self.base_url + req.path, headers=headers, content=content, params=params))

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Optional[Mapping[str, QueryValue]] = None,
        json_body: Any = None,
        raw_body: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        credential: Optional[AsyncCredential] = None,
    ) -> Any:
        if not path.startswith("/"):
            raise ValueError("the path must start with /")
        return await self._send(_Req(method, path, query=query, body=json_body, raw_body=raw_body, headers=headers), credential)

    async def create_link_token(
        self,
        *,
        end_user: Mapping[str, Any],
        connectors: Optional[Sequence[str]] = None,
        connection_id: Optional[str] = None,
        redirect_url: Optional[str] = None,
    ) -> LinkToken:
        return self._link_token_of(await self._send(self._link_token_req(end_user, connectors, connection_id, redirect_url)))

    async def exchange_public_token(self, public_token: str) -> ExchangedConnection:
        if not isinstance(public_token, str) or not public_token:
            raise TypeError("exchange_public_token needs the public token")
        return self._exchanged_of(await self._send(_Req("POST", "/v1/link/exchange", body={"public_token": public_token})))

    async def create_session(
        self,
        *,
        consumer_id: str,
        redirect_uri: str,
        settings: Optional[Mapping[str, Any]] = None,
        consumer_metadata: Optional[Mapping[str, Any]] = None,
        theme: Optional[Mapping[str, Any]] = None,
    ) -> Session:
        return self._session_of(await self._send(self._session_req(consumer_id, redirect_uri, settings, consumer_metadata, theme)))

    async def get_token(
        self,
        connector: str,
        *,
        subject: Subject,
        installation_id: Optional[str] = None,
        scopes: Optional[Sequence[str]] = None,
        resources: Optional[Sequence[str]] = None,
        authorization_details: Optional[Sequence[Mapping[str, Any]]] = None,
        allow_broader: Optional[bool] = None,
        force_refresh: bool = False,
        credential: Optional[AsyncCredential] = None,
    ) -> ProviderToken:
        req = self._token_req(connector, subject, installation_id, scopes, resources, authorization_details, allow_broader)

        async def fetch() -> ProviderToken:
            return _to_token(await self._send(req, credential))

        if self._cache is None:
            return await fetch()
        key = self._cache_key(
            credential if credential is not None else self.__credential,
            self.__credential,
            connector,
            subject,
            installation_id,
            scopes,
            resources,
            authorization_details,
            allow_broader,
        )
        return await self._cache.get(key, fetch, force_refresh)

    def clear_token_cache(self) -> None:
        if self._cache is not None:
            self._cache.clear()

    async def proxy(
        self,
        connector: str,
        path: str,
        *,
        subject: Subject,
        method: str = "GET",
        installation_id: Optional[str] = None,
        retries: int = 0,
        headers: Optional[Mapping[str, str]] = None,
        params: Optional[Mapping[str, QueryValue]] = None,
        json_body: Any = None,
        content: Optional[Union[str, bytes]] = None,
        credential: Optional[AsyncCredential] = None,
    ) -> httpx.Response:
        url, sent = self._proxy_parts(connector, path, subject, installation_id, retries, headers)
        body: Optional[Union[str, bytes]] = content
        if json_body is not None:
            body = json.dumps(json_body)
            sent.setdefault("content-type", "application/json")
        sent["authorization"] = f"Bearer {await self._bearer(credential)}"
        return self._proxied(await self._raw(method.upper(), url, headers=sent, content=body, params=_query(params) if params else None))

    async def revoke_access_token(self, access_token: str) -> bool:
        if not isinstance(access_token, str) or not access_token:
            raise TypeError("revoke_access_token needs the access token")
        body = await self._send(_Req("POST", "/v1/access-tokens/revoke", body={"access_token": access_token}))
        return _dict(body).get("revoked") is True


__all__ = ["Latchkey", "AsyncLatchkey", "Connections", "AsyncConnections", "Audit", "AsyncAudit"]
