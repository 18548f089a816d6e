"""Opaque ``next_page_token`` values bound to their query and expiring like Zoom's."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Any

EXPIRED_MESSAGE = "The next page token is invalid or expired."


class PageTokenError(Exception):
    """The token is unknown, expired or belongs to another query (HTTP 400, code 300)."""


@dataclass(frozen=True)
class PageState:
    """Where the next page starts and which snapshot of the data it reads."""

    query: tuple
    cursor: Any
    snap: float
    issued: float


class PageTokens:
    """Server-side table of live page tokens (the token itself carries no information)."""

    def __init__(self, ttl: float) -> None:
        """Tokens live ``ttl`` sandbox-seconds after issue."""
        self._ttl = ttl
        self._states: dict[str, PageState] = {}
        self._issued = 0
        self._lock = threading.Lock()

    def issue(self, query: tuple, cursor: Any, snap: float, now: float) -> str:
        """Remember a position and return the token that names it."""
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._states[token] = PageState(query, cursor, snap, now)
            self._issued += 1
            if self._issued % 1000 == 0:
                self._states = {k: s for k, s in self._states.items() if s.issued + self._ttl > now}
        return token

    def resolve(self, token: str, query: tuple, now: float) -> PageState:
        """Return the state behind ``token`` for this ``query``; raise PageTokenError otherwise."""
        with self._lock:
            state = self._states.get(token)
        if state is None or state.issued + self._ttl <= now:
            raise PageTokenError(EXPIRED_MESSAGE)
        if state.query != query:
            raise PageTokenError(f"{EXPIRED_MESSAGE} It was issued for a different query.")
        return state

    def expire_all(self) -> None:
        """Make every token issued so far unusable (the 'early expiry' fault)."""
        with self._lock:
            self._states.clear()
