"""BATCH mode: STATE only ever covers records whose batch file was already announced."""

from __future__ import annotations

import gzip
import json
from urllib.parse import urlsplit

from .helpers import busy_hour, run_tap, seen_ids


def _batch_records(manifest: list[str]) -> list[dict]:
    records = []
    for url in manifest:
        with gzip.open(urlsplit(url).path, "rt") as handle:
            records.extend(json.loads(line) for line in handle if line.strip())
    return records


def test_state_follows_batches(tmp_path, sandbox_factory):
    # Weekday afternoons: every day window has sign-ins, whenever the suite runs (a Sunday
    # night left too few windows with events for three STATEs to check).
    sb = sandbox_factory(users=5, days=3, now=busy_hour())
    batches = tmp_path / "batches"
    batches.mkdir()
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": f"file://{batches}"},
        "batch_size": 20,
    }
    run = run_tap(
        tmp_path, sb.tap_config(window_days=1, lookback_days=4, batch_config=batch_config)
    )
    assert run.returncode == 0, run.stderr[-3000:]

    announced: set[str] = set()
    checked = 0
    for message in run.messages:
        assert message["type"] != "RECORD"
        if message["type"] == "BATCH" and message["stream"] == "activities":
            announced |= {r["event_id"] for r in _batch_records(message["manifest"])}
        elif message["type"] == "STATE":
            seen = seen_ids(message["value"]["bookmarks"].get("activities", {}))
            handed = {event_id[:16] for event_id in announced}
            assert set(seen) <= handed, "state covers records not yet handed to the target"
            checked += bool(seen)
    assert checked >= 3
    assert len(announced) == len(sb.ground_truth("activities"))
