"""A sandbox whose OAuth app has a loopback redirect URL registered on a free port."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tap_zoom_defender.sandbox import Sandbox

from .helpers import callback_url, free_port

SMALL = {"users": 20, "days": 3, "seed": 7}


@dataclass
class ZoomApp:
    """The emulated account and the redirect port its OAuth app has registered."""

    sb: Sandbox
    port: int


@pytest.fixture
def zoom_app_factory(sandbox_factory: Callable[..., Sandbox]) -> Callable[..., ZoomApp]:
    """Start an account whose app registered ``http://127.0.0.1:PORT/oauth/callback``."""

    def make(**kwargs: object) -> ZoomApp:
        port = free_port()
        sb = sandbox_factory(**{**SMALL, "redirect_uri": callback_url(port), **kwargs})
        return ZoomApp(sb, port)

    return make


@pytest.fixture
def zoom_app(zoom_app_factory: Callable[..., ZoomApp]) -> ZoomApp:
    """A small Pro account; its app has the classic scopes every stream needs."""
    return zoom_app_factory()
