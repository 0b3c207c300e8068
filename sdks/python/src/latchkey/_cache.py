"""The in-process token cache: a token is reused until its expiry minus a buffer (and never for
more than half of its remaining lifetime); concurrent misses for one key make one request."""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from concurrent.futures import Future
from datetime import datetime
from typing import Awaitable, Callable, Dict, Hashable, Optional, Tuple

from ._types import ProviderToken


def reuse_seconds(expires_at: Optional[datetime], now: float, buffer_seconds: float, no_expiry_ttl_seconds: float) -> float:
    """How long a token fetched at ``now`` may be reused; 0 means not at all."""
    if expires_at is None:
        return max(0.0, no_expiry_ttl_seconds)
    remaining = expires_at.timestamp() - now
    if remaining <= 0:
        return 0.0
    return max(0.0, min(remaining - buffer_seconds, remaining / 2))


class _Entries:
    def __init__(self, buffer_seconds: float, no_expiry_ttl_seconds: float, max_entries: int, clock: Callable[[], float]) -> None:
        if buffer_seconds < 0 or no_expiry_ttl_seconds < 0 or max_entries < 1:
            raise ValueError("invalid token cache options")
        self.buffer = buffer_seconds
        self.no_expiry_ttl = no_expiry_ttl_seconds
        self.max = max_entries
        self.clock = clock
        self.entries: "OrderedDict[Hashable, Tuple[ProviderToken, float]]" = OrderedDict()

    def fresh(self, key: Hashable) -> Optional[ProviderToken]:
        entry = self.entries.get(key)
        if entry is None:
            return None
        token, until = entry
        if until > self.clock():
            return token
        self.entries.pop(key, None)
        return None

    def store(self, key: Hashable, token: ProviderToken, started: float) -> None:
        reuse = reuse_seconds(token.expires_at, started, self.buffer, self.no_expiry_ttl)
        if reuse <= 0:
            return
        self.entries.pop(key, None)
        self.entries[key] = (token, started + reuse)
        while len(self.entries) > self.max:
            self.entries.popitem(last=False)


class TokenCache:
    """Thread-safe, for the sync client: one in-flight request per key, the others wait for it."""

    def __init__(self, *, buffer_seconds: float = 60, no_expiry_ttl_seconds: float = 300, max_entries: int = 1000, clock: Callable[[], float]) -> None:
        self._entries = _Entries(buffer_seconds, no_expiry_ttl_seconds, max_entries, clock)
        self._lock = threading.Lock()
        self._inflight: Dict[Hashable, "Future[ProviderToken]"] = {}

    def get(self, key: Hashable, fetch: Callable[[], ProviderToken], force: bool = False) -> ProviderToken:
        with self._lock:
            if not force:
                token = self._entries.fresh(key)
                if token is not None:
                    return token
            pending = self._inflight.get(key)
            if pending is None:
                future: "Future[ProviderToken]" = Future()
                self._inflight[key] = future
                leader = True
            else:
                future = pending
                leader = False
        if not leader:
            return future.result()
        started = self._entries.clock()
        try:
            token = fetch()
        except BaseException as error:
            with self._lock:
                self._inflight.pop(key, None)
            future.set_exception(error)
            raise
        with self._lock:
            self._entries.store(key, token, started)
            self._inflight.pop(key, None)
        future.set_result(token)
        return token

    def delete(self, key: Hashable) -> None:
        with self._lock:
            self._entries.entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.entries.clear()

    def __len__(self) -> int:
        return len(self._entries.entries)


class AsyncTokenCache:
    """For the async client (one event loop): one in-flight task per key, the others await it."""

    def __init__(self, *, buffer_seconds: float = 60, no_expiry_ttl_seconds: float = 300, max_entries: int = 1000, clock: Callable[[], float]) -> None:
        self._entries = _Entries(buffer_seconds, no_expiry_ttl_seconds, max_entries, clock)
        self._inflight: Dict[Hashable, "asyncio.Task[ProviderToken]"] = {}

    async def get(self, key: Hashable, fetch: Callable[[], Awaitable[ProviderToken]], force: bool = False) -> ProviderToken:
        if not force:
            token = self._entries.fresh(key)
            if token is not None:
                return token
        task = self._inflight.get(key)
        if task is None:
            started = self._entries.clock()

            async def run() -> ProviderToken:
                try:
                    token = await fetch()
                    self._entries.store(key, token, started)
                    return token
                finally:
                    self._inflight.pop(key, None)

            task = asyncio.ensure_future(run())
            self._inflight[key] = task
        # shield: one caller's cancellation does not cancel the request the others wait for.
        return await asyncio.shield(task)

    def delete(self, key: Hashable) -> None:
        self._entries.entries.pop(key, None)

    def clear(self) -> None:
        self._entries.entries.clear()

    def __len__(self) -> int:
        return len(self._entries.entries)
