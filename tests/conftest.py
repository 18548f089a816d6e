"""Fixtures shared by every test area: real Zoom sandboxes on free loopback ports."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tap_zoom_defender.sandbox import Sandbox, SandboxConfig

# Small enough to start in milliseconds and page through in well under a second.
SMALL = {"users": 20, "days": 3, "seed": 7}


@pytest.fixture(scope="session", autouse=True)
def isolated_state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Keep the tap's default quota store (under $XDG_STATE_HOME) out of the user's home.

    Subprocesses (the tap's CLI, Meltano) inherit the variable, so no test run adds request
    counts to the real ~/.local/state/tap-zoom-defender/quota.sqlite.
    """
    state_home = tmp_path_factory.mktemp("xdg-state")
    previous = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(state_home)
    yield state_home
    if previous is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = previous


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes with SandboxConfig keyword arguments (its defaults otherwise).

    Every sandbox started through the factory is stopped at teardown.
    """
    started: list[Sandbox] = []

    def factory(**kwargs: object) -> Sandbox:
        sb = Sandbox(SandboxConfig(**kwargs)).start()  # type: ignore[arg-type]
        started.append(sb)
        return sb

    yield factory
    for sb in started:
        sb.stop()


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    """A small Pro account (20 users, 3 days), rate limits on, its own server."""
    return sandbox_factory(**SMALL)


@pytest.fixture(scope="session")
def session_sandbox() -> Iterator[Sandbox]:
    """One small read-only account for the whole session (e.g. singer-sdk standard tests).

    Do not inject faults, advance its clock or revoke tokens here: other tests share it.
    """
    with Sandbox(SandboxConfig(**SMALL)) as sb:  # type: ignore[arg-type]
        yield sb
