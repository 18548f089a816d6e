"""target-defender's throughput and memory, against the rate the tap can feed it.

The fastest the tap can read Zoom is the Business plan's Heavy budget: 40 requests/s x 300
records = 12,000 records/s. target-defender must keep up with twice that (24,000 records/s),
into jsonl and through the ``azure_monitor`` destination (Microsoft's client) into the Azure
Monitor emulator, with memory that does not grow with the input.

The input is real tap output: one sync of a ``zoom-sandbox`` account (activities and operation
logs), replicated with fresh ``event_id`` s to the wanted size, STATE every 10,000 records (a
day's window on a large account). Each run is the real CLI reading a file on stdin; wall time
covers the whole process, peak RSS is its ``VmHWM``. Into Azure, the target's time ends with its
last 204 (Azure stores accepted calls after an ingestion latency; the emulator likewise stores
them when first queried, and the time it took is printed apart: it runs on the same two cores).

    .venv/bin/python bench/target_throughput.py               # 200,000 and 800,000 records
    .venv/bin/python bench/target_throughput.py --records 50000 --no-azure
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BIN, TAP, PeakRss, emulator, sandbox

TARGET = str(BIN / "target-defender")
BUSINESS_MAX_RECORDS_PER_S = 40 * 300
STATE_EVERY = 10_000


def tap_output(tmp: Path) -> list[dict]:
    """Singer messages of one real sync of a sandbox account (users left out)."""
    with sandbox("--users", "400", "--days", "8", "--no-rate-limits") as sb:
        config = sb.tap_config(tmp, max_workers=8)
        path = tmp / "tap.json"
        path.write_text(json.dumps(config))
        catalog_path = tmp / "catalog.json"
        discovered = subprocess.run(
            [TAP, "--config", str(path), "--discover"], capture_output=True, check=True
        )
        catalog = json.loads(discovered.stdout)
        for stream in catalog["streams"]:
            for entry in stream["metadata"]:
                if not entry["breadcrumb"]:
                    entry["metadata"]["selected"] = stream["tap_stream_id"] != "users"
        catalog_path.write_text(json.dumps(catalog))
        out = subprocess.run(
            [TAP, "--config", str(path), "--catalog", str(catalog_path)],
            capture_output=True,
            check=True,
            env={**os.environ, "XDG_STATE_HOME": str(tmp / "xdg")},
        )
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def write_input(messages: list[dict], records: int, path: Path) -> None:
    """``records`` RECORD lines cycling through the tap's, each with a new event_id."""
    schemas = [m for m in messages if m["type"] == "SCHEMA"]
    rows = [m for m in messages if m["type"] == "RECORD"]
    with path.open("w") as out:
        for schema in schemas:
            out.write(json.dumps(schema) + "\n")
        for n in range(records):
            message = dict(rows[n % len(rows)])
            record = dict(message["record"])
            record["event_id"] = hashlib.sha256(f"{n}".encode()).hexdigest()[:32]
            message["record"] = record
            out.write(json.dumps(message, separators=(",", ":")) + "\n")
            if (n + 1) % STATE_EVERY == 0 or n + 1 == records:
                state = {"type": "STATE", "value": {"bookmarks": {"n": n + 1}}}
                out.write(json.dumps(state) + "\n")


@contextmanager
def azure_emulator(tmp: Path) -> Iterator[dict]:
    """``azure-monitor-sandbox`` in its own process (the project's asim DCR), rate limits off."""
    limits_off = ["--requests-per-window", "1000000", "--bytes-per-window", "100000000000"]
    command = [str(BIN / "azure-monitor-sandbox")]
    with emulator(command, "--ca-dir", str(tmp / "ca"), *limits_off) as (info, _proc):
        yield info


def stored(azure: dict) -> dict[str, int]:
    """Rows the emulator stored, per table."""
    # The emulator stores accepted calls when first read: 800,000 rows take it a minute or more.
    tables = requests.get(azure["query_url"], verify=azure["ca_cert"], timeout=900).json()
    return {name: counts["stored"] for name, counts in tables["tables"].items()}


def run_target(
    config: dict, input_path: Path, tmp: Path, env: dict[str, str] | None = None
) -> tuple[float, int, int]:
    """(wall seconds, peak RSS KiB, exit code) of target-defender on ``input_path``."""
    config_path = tmp / f"target-{time.monotonic_ns()}.json"
    config_path.write_text(json.dumps(config))
    with input_path.open("rb") as stdin, (tmp / "target.log").open("w") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [TARGET, "--config", str(config_path)],
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={**os.environ, **(env or {})},
        )
        watcher = PeakRss(proc.pid)
        code = proc.wait()
        wall = time.perf_counter() - started
        peak = watcher.stop()
    if code != 0:
        raise SystemExit(
            f"target-defender exited {code}: {(tmp / 'target.log').read_text()[-2000:]}"
        )
    return wall, peak, code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--scale", type=int, default=4, help="the larger input is this many times")
    parser.add_argument("--no-azure", action="store_true", help="jsonl only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="target-bench-") as scratch:
        tmp = Path(scratch)
        messages = tap_output(tmp)
        sizes = [args.records, args.records * args.scale]
        inputs = {}
        for size in sizes:
            inputs[size] = tmp / f"input-{size}.jsonl"
            write_input(messages, size, inputs[size])
        print(f"target-defender: tap output of {sum(m['type'] == 'RECORD' for m in messages)} "
              f"records replicated; Business max {BUSINESS_MAX_RECORDS_PER_S:,} records/s, "
              f"aim 2x = {2 * BUSINESS_MAX_RECORDS_PER_S:,}")  # fmt: skip
        with contextlib.ExitStack() as stack:
            runs = [("jsonl", lambda out: {"output_dir": str(out)}, None, None)]
            if not args.no_azure:
                azure = stack.enter_context(azure_emulator(tmp))
                settings = {"destination": "azure_monitor", **azure["target_settings"]}
                runs.append(
                    ("azure_monitor", lambda out: {"output_dir": str(out), **settings},
                     azure["env"], azure)
                )  # fmt: skip
            for name, make, env, emulator in runs:
                peaks = []
                for size in sizes:
                    before = sum(stored(emulator).values()) if emulator else 0
                    wall, peak, _ = run_target(
                        make(tmp / f"out-{name}-{size}"), inputs[size], tmp, env
                    )
                    peaks.append(peak)
                    rate = size / wall
                    ratio = rate / BUSINESS_MAX_RECORDS_PER_S
                    line = (f"  {name:<14} {size:>9,} records  {wall:6.2f} s"
                            f"  {rate:>9,.0f} records/s  ratio to Business max {ratio:.2f}"
                            f"  peak RSS {peak / 1024:.1f} MiB")  # fmt: skip
                    if emulator:  # it stores accepted calls when first queried, as Azure later
                        settle = time.perf_counter()
                        count = sum(stored(emulator).values()) - before
                        took = time.perf_counter() - settle
                        line += f"  stored {count:,} (the emulator took {took:.1f} s more)"
                    print(line, flush=True)
                print(f"  {name:<14} peak RSS, {args.scale}x input / 1x input: "
                      f"{peaks[1] / peaks[0]:.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
