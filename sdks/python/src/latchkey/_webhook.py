"""Verifying Latchkey's webhooks.

``Latchkey-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`` plus
``Latchkey-Event-Id`` (the same on every retry: drop duplicates by it) and ``Latchkey-Event``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Iterable, List, Mapping, Optional, Tuple, Union

HeaderSource = Union[Mapping[str, str], Iterable[Tuple[str, str]]]

_TIMESTAMP = re.compile(r"^\d{1,12}$")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


class WebhookVerificationError(Exception):
    """A webhook that did not verify. ``reason`` is one of ``missing_header``, ``malformed_header``,
    ``timestamp_out_of_tolerance``, ``signature_mismatch``, ``invalid_body``. The message never
    contains the secret, the signature or the body."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class WebhookEvent:
    """A verified webhook."""

    id: Optional[str]
    """``Latchkey-Event-Id``: unique per event, the same on every retry."""
    type: Optional[str]
    """``Latchkey-Event``, e.g. ``connection.created``."""
    timestamp: int
    payload: Any


def _header(headers: HeaderSource, name: str) -> Optional[str]:
    items: Iterable[Tuple[str, str]]
    if hasattr(headers, "get_list"):  # httpx.Headers: joins repeated values
        value = headers.get(name)  # type: ignore[union-attr]
        return value if isinstance(value, str) else None
    if isinstance(headers, Mapping):
        items = headers.items()
    else:
        items = headers
    for key, value in items:
        if key.lower() == name:
            return value
    return None


def parse_signature_header(value: str) -> Optional[Tuple[int, List[bytes]]]:
    """``t=...,v1=...[,v1=...]`` → (timestamp, signatures), or None when malformed."""
    timestamp: Optional[int] = None
    signatures: List[bytes] = []
    for part in value.split(","):
        key, sep, val = part.partition("=")
        key, val = key.strip(), val.strip()
        if not sep or not key:
            return None
        if key == "t":
            if timestamp is not None or not _TIMESTAMP.match(val):
                return None
            timestamp = int(val)
        elif key == "v1":
            if not _HEX64.match(val):
                return None
            signatures.append(bytes.fromhex(val))
        # Other schemes are ignored: a future signature scheme must not break this SDK.
    if timestamp is None or not signatures:
        return None
    return timestamp, signatures


def sign_webhook(secret: str, raw_body: Union[str, bytes], timestamp: Optional[int] = None) -> str:
    """Signs ``raw_body`` as Latchkey does (for tests of your webhook endpoint)."""
    t = int(time.time()) if timestamp is None else timestamp
    body = raw_body.encode() if isinstance(raw_body, str) else raw_body
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify_webhook(
    secret: str,
    headers: HeaderSource,
    raw_body: Union[str, bytes],
    *,
    tolerance_seconds: int = 300,
    now: Optional[float] = None,
) -> WebhookEvent:
    """Verifies a webhook and returns its event.

    Pass the raw body exactly as received (before any JSON parsing). Raises
    :class:`WebhookVerificationError` when a header is missing or malformed, the timestamp is more
    than ``tolerance_seconds`` from now (past or future), or no signature matches (compared in
    constant time).
    """
    if not isinstance(secret, str) or not secret:
        raise TypeError("verify_webhook needs the webhook's signing secret")
    if not isinstance(raw_body, (str, bytes, bytearray)):
        raise WebhookVerificationError("invalid_body", "the raw body must be str or bytes (not parsed JSON)")
    signature = _header(headers, "latchkey-signature")
    if signature is None:
        raise WebhookVerificationError("missing_header", "the Latchkey-Signature header is missing")
    parsed = parse_signature_header(signature)
    if parsed is None:
        raise WebhookVerificationError("malformed_header", "the Latchkey-Signature header is malformed")
    timestamp, candidates = parsed
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise WebhookVerificationError(
            "timestamp_out_of_tolerance", f"the signature's timestamp is more than {tolerance_seconds} seconds from now"
        )
    body = raw_body.encode() if isinstance(raw_body, str) else bytes(raw_body)
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).digest()
    valid = False
    for candidate in candidates:
        if hmac.compare_digest(expected, candidate):
            valid = True
    if not valid:
        raise WebhookVerificationError("signature_mismatch", "no signature matches this body and secret")
    try:
        payload = json.loads(body)
    except ValueError:
        raise WebhookVerificationError("invalid_body", "the body is not JSON") from None
    return WebhookEvent(
        id=_header(headers, "latchkey-event-id"),
        type=_header(headers, "latchkey-event"),
        timestamp=timestamp,
        payload=payload,
    )
