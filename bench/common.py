"""Shared plumbing of the benchmarks: a sandbox in its own process, the tap as its real CLI.

Nothing here measures anything by itself; each bench script prints its own figures.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

BIN = Path(sys.executable).parent
SANDBOX = str(BIN / "zoom-sandbox")
TAP = str(BIN / "tap-zoom-defender")
UNLIMITED = {"Light": 1e6, "Medium": 1e6, "Heavy": 1e6, "Resource-intensive": 1e6}
WINDOWS_LINE = re.compile(r"(\w+): (\d+) window\(s\) from (\S+) to (\S+)")
WORKERS_LINE = re.compile(r"(\w+): (\d+) listing\(s\), (\d+) worker\(s\)")


@dataclass
class Sandbox:
    """A running ``zoom-sandbox`` process and what its ``--url-file`` says."""

    info: dict
    proc: subprocess.Popen

    def control(self, name: str, **params: object) -> dict:
        """GET ``/_sandbox/<name>`` (ground truth, request log, status)."""
        response = requests.get(
            f"{self.info['base_url']}/_sandbox/{name}", params=params, timeout=600
        )
        response.raise_for_status()
        return response.json()

    def issue_refresh_token(self) -> str:
        """A fresh refresh token, as an admin's consent would leave behind."""
        response = requests.post(f"{self.info['base_url']}/_sandbox/refresh_token", timeout=60)
        response.raise_for_status()
        return response.json()["refresh_token"]

    def request_log(self, since: float) -> list[dict]:
        """Every API request the sandbox answered since ``since`` (epoch seconds)."""
        return self.control("request_log", since=since)["entries"]

    def count(self, stream: str, start: datetime, end: datetime) -> int:
        """Records of ``stream`` visible with ``start <= time < end``."""
        return len(self.control("ground_truth", stream=stream, start=start.isoformat(),
                                end=end.isoformat())["records"])  # fmt: skip

    def tap_config(self, tmp: Path, **overrides: object) -> dict:
        """Server-to-Server settings for the tap, with a private quota file."""
        keys = ("api_url", "oauth_url", "account_id", "client_id", "client_secret", "plan")
        config = {key: self.info[key] for key in keys}
        config["quota_state_path"] = str(tmp / f"quota-{time.monotonic_ns()}.sqlite")
        config.update(overrides)
        return config


@contextmanager
def sandbox(*args: str, runner: list[str] | None = None) -> Iterator[Sandbox]:
    """Start ``zoom-sandbox --port 0 --url-file ... *args`` (or ``runner``) and stop it after."""
    with emulator(runner or [SANDBOX], *args) as (info, proc):
        yield Sandbox(info, proc)


@contextmanager
def emulator(command: list[str], *args: str) -> Iterator[tuple[dict, subprocess.Popen]]:
    """Start an emulator CLI with ``--port 0 --url-file``; yield what the file says, and it."""
    with tempfile.TemporaryDirectory() as tmp:
        url_file = Path(tmp) / "emulator.json"
        cmd = [*command, "--port", "0", "--url-file", str(url_file), *args]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            while not url_file.exists():
                if proc.poll() is not None:
                    raise SystemExit(f"{command[-1]} failed: {proc.stderr.read().decode()}")
                time.sleep(0.05)
            yield json.loads(url_file.read_text()), proc
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@dataclass
class TapRun:
    """One finished tap process."""

    returncode: int
    wall_s: float
    max_rss_kb: int  # peak resident set of the tap process (VmHWM), KiB
    stderr: str
    started_epoch: float
    records: int

    def windows(self, stream: str) -> tuple[int, datetime, datetime]:
        """(window count, sync start, sync end) of ``stream`` from the tap's own log line."""
        for match in WINDOWS_LINE.finditer(self.stderr):
            if match.group(1) == stream:
                return (int(match.group(2)), datetime.fromisoformat(match.group(3)),
                        datetime.fromisoformat(match.group(4)))  # fmt: skip
        raise SystemExit(f"no window line for {stream}:\n{self.stderr[-2000:]}")

    def workers(self, stream: str) -> int:
        """Pool size the tap chose for ``stream``."""
        for match in WORKERS_LINE.finditer(self.stderr):
            if match.group(1) == stream:
                return int(match.group(3))
        return 1

    def progress_lines(self) -> list[str]:
        """The tap's periodic progress lines."""
        return [line for line in self.stderr.splitlines() if " progress: " in line]


def run_tap(
    config: dict, tmp: Path, *, prefix: list[str] | None = None, suffix: list[str] | None = None
) -> TapRun:
    """Run the tap CLI with ``config``; stdout is counted (RECORD lines) and thrown away.

    Wall time covers the whole process (interpreter start to exit); peak RSS is the child's
    own ``ru_maxrss`` from ``wait4``.
    """
    path = tmp / f"config-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(config))
    stderr_path = tmp / f"stderr-{time.monotonic_ns()}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_ZOOM_DEFENDER_")}
    env["XDG_STATE_HOME"] = str(tmp / "xdg")
    records = 0
    started_epoch = time.time()
    started = time.perf_counter()
    with stderr_path.open("w") as stderr:
        cmd = [*(prefix or []), TAP, "--config", str(path), *(suffix or [])]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=tmp)
        watcher = PeakRss(proc.pid)
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(b'{"type":"RECORD"') or line.startswith(b'{"type": "RECORD"'):
                records += 1
        peak = watcher.stop()
        proc.wait()
        wall = time.perf_counter() - started
    return TapRun(proc.returncode, wall, peak, stderr_path.read_text(), started_epoch, records)


class PeakRss:
    """Poll a process's ``VmHWM`` (peak resident set since its exec) until it ends.

    ``ru_maxrss`` from ``wait4`` is no good here: it also counts the forked copy of the parent
    before ``exec``, i.e. this benchmark's own memory.
    """

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self._path = Path(f"/proc/{pid}/status")
        self._peak = 0
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        try:
            for line in self._path.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self._peak = max(self._peak, int(line.split()[1]))
        except (OSError, ValueError):
            pass

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def stop(self) -> int:
        """Take a last sample (the process may still be exiting) and return the peak in KiB."""
        self._sample()
        self._stop.set()
        self._thread.join()
        return self._peak


def day_bounds(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The UTC-day pieces of ``[start, end)``: what one day request can hold of the range."""
    cursor = start
    while cursor < end:
        midnight = cursor.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        yield cursor, min(midnight, end)
        cursor = min(midnight, end)


def day_counts(sb: Sandbox, stream: str, start: datetime, end: datetime) -> list[int]:
    """Records of ``stream`` in each UTC-day piece of ``[start, end)``."""
    return [sb.count(stream, lo, hi) for lo, hi in day_bounds(start, end)]


def pages_of(counts: list[int]) -> list[int]:
    """Pages of 300 each day needs: ceil(records / 300); an empty day still costs one request."""
    return [max(1, math.ceil(n / 300)) for n in counts]


def heavy_entries(log: list[dict]) -> list[dict]:
    """Heavy requests of a request log, in admission order."""
    return sorted((e for e in log if e["category"] == "Heavy"), key=lambda e: e["t"])


def status_counts(entries: list[dict]) -> Counter:
    """How many requests got each HTTP status."""
    return Counter(e["status"] for e in entries)


def listings(start: datetime, end: datetime) -> list[dict[str, str]]:
    """The tap's day requests for [start, end): the first padded before, the last after."""
    days = []
    day = start.date()
    while datetime.combine(day, datetime.min.time(), timezone.utc) < end:
        days.append(day)
        day += timedelta(days=1)
    out = []
    for i, d in enumerate(days):
        low = d - timedelta(days=1) if i == 0 else d
        high = d + timedelta(days=1) if i == len(days) - 1 else d
        out.append({"from": low.isoformat(), "to": high.isoformat(), "page_size": "300"})
    return out


def bare(
    sb: Sandbox, params_list: list[dict], start: datetime, threads: bool
) -> tuple[int, float, int]:
    """A plain ``requests`` + ``json`` loop over the listings: (records, seconds, HTTP 429s).

    No pacing: a 429 is retried after 200 ms (what a simple client does), and counted.
    """
    rejected = [0]
    token = requests.post(
        sb.info["oauth_url"],
        params={"grant_type": "account_credentials", "account_id": sb.info["account_id"]},
        auth=(sb.info["client_id"], sb.info["client_secret"]),
        timeout=30,
    ).json()["access_token"]
    floor = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    counts = [0] * len(params_list)

    def fetch(i: int) -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            params = dict(params_list[i])
            while True:
                response = session.get(
                    sb.info["api_url"] + "/report/activities", params=params, timeout=60
                )
                if response.status_code == 429:
                    rejected[0] += 1
                    time.sleep(0.2)
                    continue
                body = json.loads(response.content)
                records = body["activity_logs"]
                counts[i] += sum(1 for r in records if r["time"] >= floor)
                if i == 0 and records and all(r["time"] < floor for r in records):
                    return
                if not body.get("next_page_token"):
                    return
                params["next_page_token"] = body["next_page_token"]

    started = time.perf_counter()
    if threads:
        workers = [threading.Thread(target=fetch, args=(i,)) for i in range(len(params_list))]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    else:
        for i in range(len(params_list)):
            fetch(i)
    return sum(counts), time.perf_counter() - started, rejected[0]
