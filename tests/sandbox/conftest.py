"""Fixtures for the sandbox's own tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests

from tap_zoom_defender.sandbox import Sandbox

from .helpers import s2s_token


@pytest.fixture
def api() -> Iterator[Callable[[Sandbox], requests.Session]]:
    """Return a function giving a Session that carries a fresh S2S bearer token."""
    sessions: list[requests.Session] = []

    def make(sb: Sandbox) -> requests.Session:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {s2s_token(sb)}"
        sessions.append(s)
        return s

    yield make
    for s in sessions:
        s.close()
