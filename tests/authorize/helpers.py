"""Run ``tap-zoom-defender authorize`` as an admin would, and read what the admin would read.

The command runs as a real subprocess against a real sandbox. ``FormBrowser`` does what a
browser does with the consent page over plain HTTP (GET the page, submit its form, follow the
redirect to the listener) for the quick failure-path tests; ``test_browser.py`` does the same
in headless Chromium.
"""

from __future__ import annotations

import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import requests

BIN = Path(sys.executable).parent
TAP = str(BIN / "tap-zoom-defender")
CONSENT_URL = re.compile(r"https?://\S+/oauth/authorize\?\S+")


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def callback_url(port: int) -> str:
    """The redirect URL ``authorize`` listens on for ``redirect_port=port``."""
    return f"http://127.0.0.1:{port}/oauth/callback"


def authorize_config(tmp_path: Path, sb: Any, port: int, **overrides: Any) -> dict[str, Any]:
    """The settings an admin would give: the OAuth app's credentials, a store, the port."""
    return {
        "client_id": sb.client_id,
        "client_secret": sb.client_secret,
        "oauth_url": sb.oauth_url,
        "token_store_path": str(tmp_path / "secrets" / "zoom-token.json"),
        "redirect_port": port,
        "authorize_timeout_seconds": 30,
        "quota_state_path": str(tmp_path / "quota.sqlite"),
        # The sync that follows: two days at the account's full rate keep it about a second.
        "lookback_days": 2,
        "rate_limit_share": 1,
        **overrides,
    }


def clean_env(tmp_path: Path) -> dict[str, str]:
    """The environment without this project's settings variables; no desktop to open."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TAP_ZOOM_", "DISPLAY", "WAYLAND_DISPLAY"))
    }
    env["XDG_STATE_HOME"] = str(tmp_path / "xdg")
    return env


@dataclass
class Finished:
    """One ended ``authorize`` (or tap) process."""

    returncode: int
    stdout: str
    stderr: str

    def error_lines(self) -> list[str]:
        """Log lines at ERROR level (the one line a failure prints)."""
        return [line for line in self.stderr.splitlines() if "| ERROR" in line]

    def one_error(self) -> str:
        """The single ERROR line; fails if there is none or more than one, or a traceback."""
        lines = self.error_lines()
        assert len(lines) == 1, f"want one error line, got {lines}\n{self.stderr[-3000:]}"
        assert "Traceback" not in self.stderr
        return lines[0]

    @property
    def connected(self) -> bool:
        """The command said "Connected" (at the start of a line, as it prints it)."""
        return any(line.startswith("Connected") for line in self.stdout.splitlines())


class Authorize:
    """``tap-zoom-defender authorize --config FILE --no-browser`` running in the background."""

    def __init__(self, tmp_path: Path, config: dict[str, Any], *args: str) -> None:
        (tmp_path / "secrets").mkdir(exist_ok=True)
        path = tmp_path / "authorize.json"
        path.write_text(json.dumps(config))
        self._stderr_path = tmp_path / "authorize.stderr"
        self._stderr = self._stderr_path.open("w")
        self.proc = subprocess.Popen(
            [TAP, "authorize", "--config", str(path), "--no-browser", *args],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=clean_env(tmp_path),
            cwd=tmp_path,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stdout: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def consent_url(self, timeout: float = 30) -> str:
        """The URL the command prints for the admin (waits for it)."""
        while True:
            line = self._lines.get(timeout=timeout)
            if line is None:
                raise AssertionError(f"authorize ended without a URL: {self.finish().stderr}")
            self._stdout.append(line)
            match = CONSENT_URL.search(line)
            if match:
                return match.group(0)

    def finish(self, timeout: float = 60) -> Finished:
        """Wait for the exit; everything it printed."""
        returncode = self.proc.wait(timeout=timeout)
        while (line := self._lines.get(timeout=10)) is not None:
            self._stdout.append(line)
        self._stderr.close()
        return Finished(returncode, "".join(self._stdout), self._stderr_path.read_text())


class FormBrowser:
    """What a browser does with Zoom's consent page, over HTTP (no JavaScript involved)."""

    def __init__(self) -> None:
        self.http = requests.Session()

    def open(self, url: str) -> requests.Response:
        """GET a page."""
        return self.http.get(url, timeout=30)

    def decide(self, consent_url: str, decision: str) -> str:
        """Open the consent page, press Approve or Deny; return where Zoom redirects."""
        page = self.open(consent_url)
        assert page.status_code == 200, page.text
        fields = dict(re.findall(r"name='([^']+)' value='([^']*)'", page.text))
        assert re.search(rf"id='{decision}'", page.text), page.text
        action = consent_url.split("?", 1)[0]
        answer = self.http.post(
            action, data={**fields, "decision": decision}, allow_redirects=False, timeout=30
        )
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]


def with_query(url: str, **changes: str) -> str:
    """``url`` with some query parameters replaced."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return urlunsplit(parts._replace(query=urlencode({**query, **changes})))


def query_of(url: str) -> dict[str, str]:
    """A URL's query parameters."""
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def run_sync(tmp_path: Path, config: dict[str, Any]) -> tuple[Finished, list[dict]]:
    """A plain sync with the same settings (as the admin's scheduler would run it)."""
    path = tmp_path / "sync.json"
    path.write_text(json.dumps(config))
    proc = subprocess.run(
        [TAP, "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(tmp_path),
        cwd=tmp_path,
        check=False,
    )
    messages = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return Finished(proc.returncode, proc.stdout, proc.stderr), messages


def records(messages: list[dict], stream: str) -> list[dict]:
    """RECORD payloads of one stream."""
    return [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


def assert_no_secrets(*texts: str, secrets: list[str]) -> None:
    """None of the secret values appears in any text (stdout, stderr, the browser's page)."""
    for secret in secrets:
        assert secret and len(secret) >= 6
        for text in texts:
            assert secret not in text, "a secret leaked"
