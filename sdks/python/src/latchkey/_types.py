"""Answers of the API as frozen dataclasses. Secret fields are left out of ``repr``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, Generic, Literal, Mapping, Optional, Tuple, TypeVar, Union

T = TypeVar("T")

Subject = Mapping[str, Any]
"""``{"type": "user", "id": "..."}`` or ``{"type": "app"}``; see :func:`user` and :func:`app`."""


def user(id: str) -> Dict[str, str]:
    """A user subject."""
    return {"type": "user", "id": id}


def app() -> Dict[str, str]:
    """The app subject (the tenant-wide installation)."""
    return {"type": "app"}


@dataclass(frozen=True)
class ConnectorRef:
    uid: str
    provider: str


@dataclass(frozen=True)
class ProviderToken:
    """A provider token from the broker; ``access_token`` is not in its repr."""

    access_token: str = field(repr=False)
    token_type: str
    expires_at: Optional[datetime]
    scopes: Tuple[str, ...]
    connection_id: str
    installation_id: Optional[str]
    connector: ConnectorRef
    metadata: Mapping[str, Any]
    user_access_token: Optional[str] = field(default=None, repr=False)
    # The resources (RFC 8707) a narrowed token is limited to; None when it is not.
    resources: Optional[Tuple[str, ...]] = None
    # The authorization details (RFC 9396) a narrowed token carries; None when it carries none.
    authorization_details: Optional[Tuple[Mapping[str, Any], ...]] = None


@dataclass(frozen=True)
class LinkToken:
    link_token: str = field(repr=False)
    expires_at: str
    # Only for a link with a redirect_url (the full page sends its result there); None otherwise.
    connect_url: Optional[str] = field(default=None, repr=False)


@dataclass(frozen=True)
class ExchangedConnection:
    connection_id: str
    access_token: str = field(repr=False)
    """Latchkey's credential for this one connection: keep it server-side."""
    connector: str
    end_user: Mapping[str, Any]


@dataclass(frozen=True)
class Session:
    session_token: str = field(repr=False)
    url: str = field(repr=False)
    expires_at: str


@dataclass(frozen=True)
class Connection:
    id: Optional[str]
    """None for a connector this consumer has no connection to (state ``available``)."""
    connector: str
    name: str
    provider: str
    auth_type: str
    state: str
    consumer_id: Optional[str]
    scopes: Tuple[str, ...]
    metadata: Mapping[str, Any]
    authorize_url: Optional[str] = field(repr=False)
    revoke_url: Optional[str]
    created_at: Optional[str]
    updated_at: Optional[str]


@dataclass(frozen=True)
class DeletedConnection:
    id: str
    deleted: bool
    revoked: bool


@dataclass(frozen=True)
class Page(Generic[T]):
    data: Tuple[T, ...]
    next_cursor: Optional[str]
    """Pass as ``cursor`` for the next page; None on the last one."""


AuditAction = Literal[
    "token_issued",
    "proxy_call",
    "connection_created",
    "connection_relinked",
    "connection_updated",
    "connection_disconnected",
    "connection_deleted",
    "credentials_imported",
    "access_token_issued",
    "access_token_revoked",
    "secret_key_created",
    "secret_key_revoked",
    "connector_linked",
    "connector_unlinked",
    "connector_changed",
    "connector_deleted",
    "issuer_trusted",
    "issuer_distrusted",
    "origins_changed",
    "installation_recorded",
]
"""What the audit trail records (the server's closed set)."""

AuditActorKind = str
"""``secret_key``, ``oidc``, ``connection_token``, ``end_user`` or ``operator``."""


@dataclass(frozen=True)
class AuditEvent:
    """One event of the audit trail, newest first. Never a secret, a token or a body."""

    id: str
    """``aud_...``, unique."""
    at_ms: int
    """When, in Unix milliseconds."""
    action: str
    actor_kind: AuditActorKind
    actor_id: str
    """Which one: a key id, ``iss`` and ``sub``, a connection id, a consumer id, ``cli``."""
    outcome: str
    """``ok``, or the stable error code of the refusal."""
    project_id: str
    environment: Optional[str] = None
    connection_id: Optional[str] = None
    connector: Optional[str] = None
    source_ip: Optional[str] = None
    """The caller's address, when it came over HTTP."""
    user_agent: Optional[str] = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    """What else the action has to say (a proxy call's method, host, path, status), as the server sent it."""


Timestamp = Union[datetime, int]
"""A ``datetime`` (naive ones are taken as UTC), or Unix seconds."""
