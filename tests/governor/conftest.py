"""Fixtures for the rate governor's tests: governors with a private quota file, a scripted server.

The sandbox is the main counterpart; the scripted server exists for the header variants Zoom (or a
gateway in front of it) may send on a 429 (HTTP-date, ISO-8601, X-RateLimit-Reset) that a test
must be able to dictate byte for byte.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tap_zoom_defender.governor import RateGovernor


@pytest.fixture
def make_governor(tmp_path) -> Iterator[Callable[..., RateGovernor]]:
    """Build governors whose daily budget lives in this test's own quota file."""
    made: list[RateGovernor] = []

    def factory(**config) -> RateGovernor:
        config.setdefault("quota_state_path", str(tmp_path / "quota.sqlite"))
        governor = RateGovernor.from_config(config)
        made.append(governor)
        return governor

    yield factory
    for governor in made:
        governor.close()


@dataclass
class ScriptedServer:
    """A real HTTP server answering from a queue of (status, headers, body); 200 when empty."""

    url: str
    replies: deque = field(default_factory=deque)
    arrivals: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, status)
    arrival_walls: list[float] = field(default_factory=list)  # epoch seconds, same order
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, *replies: tuple[int, dict[str, str], dict]) -> None:
        """Queue replies for the next requests, in order."""
        with self.lock:
            self.replies.extend(replies)


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    """Serve scripted replies on 127.0.0.1 and record when each request arrived."""
    state: dict[str, ScriptedServer] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server = state["server"]
            with server.lock:
                status, headers, body = (
                    server.replies.popleft() if server.replies else (200, {}, {"ok": True})
                )
                server.arrivals.append((time.monotonic(), status))
                server.arrival_walls.append(time.time())
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["server"] = ScriptedServer(url=f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state["server"]
    finally:
        httpd.shutdown()
        httpd.server_close()
