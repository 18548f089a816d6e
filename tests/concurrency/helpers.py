"""Run the real tap CLI in a subprocess against a real local server; read what a user reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.tap.helpers import Reply, StubZoom

TAP = str(Path(sys.executable).parent / "tap-zoom-defender")
ACTIVITY_FIELDS = ("email", "time", "type", "ip_address", "client_type", "version")


@dataclass
class TapRun:
    """One finished tap process and the Singer messages it wrote, in order."""

    returncode: int
    stderr: str
    messages: list[dict]

    def records(self, stream: str) -> list[dict]:
        """RECORD payloads of one stream, in emission order."""
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    @property
    def state(self) -> dict:
        """The last STATE value."""
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        assert states, f"no STATE message; stderr:\n{self.stderr[-2000:]}"
        return states[-1]

    def error_lines(self) -> list[str]:
        """Log lines at ERROR level."""
        return [line for line in self.stderr.splitlines() if "| ERROR" in line]


def when(value: str) -> datetime:
    """Parse a Zoom/bookmark time."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def fields(record: dict, names: tuple[str, ...] = ACTIVITY_FIELDS) -> tuple:
    """The documented Zoom fields of a record (what the ground truth has)."""
    return tuple(record.get(name) for name in names)


def as_counter(records: list[dict]) -> Counter:
    """Multiset of records by their Zoom fields."""
    return Counter(fields(r) for r in records)


def run_tap(
    tmp_path: Path,
    config: dict[str, Any],
    *,
    state: dict | None = None,
    catalog: dict | None = None,
    on_message: Callable[[dict], None] | None = None,
    on_start: Callable[[subprocess.Popen], None] | None = None,
    name: str = "run",
) -> TapRun:
    """Run ``tap-zoom-defender --config ... [--state ...] [--catalog ...]``.

    ``on_message`` sees the messages live.
    """
    config = {"quota_state_path": str(tmp_path / "quota.sqlite"), **config}
    config_path = tmp_path / f"{name}-config.json"
    config_path.write_text(json.dumps(config))
    cmd = [TAP, "--config", str(config_path)]
    if state is not None:
        state_path = tmp_path / f"{name}-state.json"
        state_path.write_text(json.dumps(state))
        cmd += ["--state", str(state_path)]
    if catalog is not None:
        catalog_path = tmp_path / f"{name}-catalog.json"
        catalog_path.write_text(json.dumps(catalog))
        cmd += ["--catalog", str(catalog_path)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_ZOOM_DEFENDER_")}
    env["XDG_STATE_HOME"] = str(tmp_path / "xdg")
    stderr_path = tmp_path / f"{name}-stderr.log"
    messages: list[dict] = []
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env, cwd=tmp_path
        )
        assert proc.stdout is not None
        if on_start is not None:
            on_start(proc)
        for line in proc.stdout:
            if line.strip():
                message = json.loads(line)
                messages.append(message)
                if on_message is not None:
                    on_message(message)
        returncode = proc.wait(timeout=120)
    return TapRun(returncode, stderr_path.read_text(), messages)


class ZoneShiftedZoom(StubZoom):
    """A real local HTTP server answering /report/activities like a Zoom account whose report
    days are cut in its own time zone (``offset_hours`` east of UTC), not in UTC.

    ``records`` are served whole (one page) for every request whose ``from``..``to`` days, read
    in that time zone, hold their time. ``requests`` logs each (from, to) asked for.
    """

    def __init__(self, records: list[dict], offset_hours: int) -> None:
        self.records = records
        self.offset_hours = offset_hours
        self.requests: list[tuple[str, str]] = []
        super().__init__({"/v2/report/activities": self._activities}, "zone-shifted-token")

    def _activities(self, query: dict[str, list[str]]) -> Reply:
        last = {name: values[-1] for name, values in query.items()}
        self.requests.append((last["from"], last["to"]))
        return 200, {"next_page_token": "", "activity_logs": self.serve(last)}, []

    def serve(self, query: dict[str, str]) -> list[dict]:
        """Records whose local (account time zone) date lies in from..to, newest first."""
        shift = timedelta(hours=self.offset_hours)
        low, high = query["from"], query["to"]
        chosen = [
            dict(r)
            for r in self.records
            if low <= (when(r["time"]) + shift).date().isoformat() <= high
        ]
        return sorted(chosen, key=lambda r: r["time"], reverse=True)
