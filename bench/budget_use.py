"""Budget use and backfill time of a 7-day backfill (performance targets 1 and 2 of issue 4).

For each plan (Pro: Heavy 10/s, Business: Heavy 40/s) a ``zoom-sandbox`` process serves an
account with >= 200,000 sign-in events in the last 7 days, enforces the plan's limits and adds
150 ms of latency to every request. The tap runs as its real CLI (stdout counted, then dropped)
with ``rate_limit_share: 1.0``:

* concurrent (default ``max_workers``): achieved Heavy req/s (sandbox request log, first to last
  Heavy admission) / allowed Heavy req/s; 429s in the sandbox log (all caused by the tap: nothing
  else calls the sandbox); wall time of the whole process / theoretical minimum, where the
  minimum is the pages that hold the data (sum over each UTC day of the range, both report
  streams, of ceil(records / 300)) / allowed rate;
* one request at a time (``max_workers: 1``), same account: achieved / allowed; over a 2-day
  backfill (``--sequential-days``) because the rate it reaches is steady after a few pages and a
  7-day run would take minutes.

Where 150 ms latency and the day windows cap the rate below the budget (Zoom pages a day
strictly in sequence), that cap is printed next to the ratio: the longest day's pages x latency
is a floor on the wall time no matter the budget. Beside it, the same day listings fetched by a
bare unpaced ``requests`` loop (one thread each, 429s retried after 200 ms) on the same sandbox:
what this machine allows any client.

Usage: .venv/bin/python bench/budget_use.py [--quick] [--plans pro business]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import (
    bare,
    day_counts,
    heavy_entries,
    listings,
    pages_of,
    run_tap,
    sandbox,
    status_counts,
)

from tap_zoom_defender import zoom_limits

LATENCY_S = 0.15


def rate(entries: list[dict]) -> float:
    """Requests per second between the first and the last admission."""
    if len(entries) < 2:
        return 0.0
    return (len(entries) - 1) / (entries[-1]["t"] - entries[0]["t"])


def measure(plan: str, users: int, events: float, sequential_days: int, tmp: Path) -> None:
    allowed = zoom_limits.RATE_LIMITS_PER_SECOND[plan][zoom_limits.HEAVY]
    args = ["--plan", plan, "--users", str(users), "--days", "8", "--seed", "7",
            "--events-per-user-day", str(events), "--late-fraction", "0",
            "--latency", str(LATENCY_S)]  # fmt: skip
    with sandbox(*args) as sb:
        # Generate every day of the account before the clock starts: the sandbox builds a day
        # on first touch, and that CPU burst in its process delays its own admission stamps
        # (seen as one 429 in a cold run). The emulator's data generation is not the tap's time.
        now = datetime.now(timezone.utc)
        sb.count("activities", now - timedelta(days=10), now + timedelta(days=1))
        sb.count("operation_logs", now - timedelta(days=10), now + timedelta(days=1))
        base = {"rate_limit_share": 1.0, "lookback_days": 7, "progress_interval_seconds": 10}
        run = run_tap(sb.tap_config(tmp, **base), tmp)
        if run.returncode != 0:
            raise SystemExit(f"tap failed ({run.returncode}):\n{run.stderr[-3000:]}")
        log = sb.request_log(run.started_epoch)
        heavy = heavy_entries(log)
        n_windows, start, end = run.windows("activities")
        activity_counts = day_counts(sb, "activities", start, end)
        activity_pages = pages_of(activity_counts)
        _, op_start, op_end = run.windows("operation_logs")
        op_pages = pages_of(day_counts(sb, "operation_logs", op_start, op_end))
        events_in_range = sum(activity_counts)
        pages = sum(activity_pages) + sum(op_pages)
        minimum = pages / allowed
        achieved = rate(heavy)
        statuses = status_counts(heavy)
        workers = run.workers("activities")
        # Zoom pages one day strictly in sequence: the fullest day's pages x latency is a floor.
        critical = max(activity_pages) * LATENCY_S
        cap = min(allowed, pages / critical, n_windows / LATENCY_S)

        print(f"\n=== {plan}: Heavy budget {allowed:g} req/s (rate_limit_share 1.0), "
              f"{LATENCY_S * 1000:.0f} ms latency per request ===")  # fmt: skip
        print(f"data: {events_in_range:,} activity events in {n_windows} day windows "
              f"({start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC); {run.records:,} records "
              f"emitted in all streams")  # fmt: skip
        print(f"pages holding the data: {sum(activity_pages)} activities (per day "
              f"{activity_pages}) + {sum(op_pages)} operation_logs = {pages}")  # fmt: skip
        print(f"concurrent ({workers} workers): {len(heavy)} Heavy requests, "
              f"{statuses.get(429, 0)} HTTP 429, achieved {achieved:.2f} req/s -> "
              f"budget use {achieved / allowed:.3f}")  # fmt: skip
        if cap < allowed * 0.999:
            print(
                f"  cap from windows x latency: {cap:.1f} req/s (fullest day "
                f"{max(activity_pages)} pages x {LATENCY_S * 1000:.0f} ms = {critical:.1f} s of "
                f"strictly sequential paging) -> achieved / cap {achieved / cap:.3f}"
            )
            # What this machine and sandbox allow any client: the same day listings, one
            # thread each, no pacing (a 429 is retried after 200 ms), against the same limits.
            listed = [e["t"] for e in heavy if e["endpoint"] == "/report/activities"]
            _, bare_s, bare_429 = bare(sb, listings(start, end), start, threads=True)
            print(
                f"  the tap's activity listings took {listed[-1] - listed[0]:.1f} s; a bare "
                f"requests loop over the same {n_windows} listings, one thread each, unpaced: "
                f"{bare_s:.1f} s with {bare_429} HTTP 429"
            )
        print(
            f"backfill time: wall {run.wall_s:.1f} s (whole process) / theoretical minimum "
            f"{minimum:.1f} s ({pages} pages / {allowed:g} per s) = {run.wall_s / minimum:.3f}"
        )
        if critical > minimum:
            floor = max(minimum, critical)
            print(
                f"  floor from the fullest day: {floor:.1f} s -> wall / floor "
                f"{run.wall_s / floor:.3f}"
            )
        print("progress lines:", *run.progress_lines()[:2], sep="\n  ")

        seq_config = dict(base, lookback_days=sequential_days, max_workers=1)
        seq = run_tap(sb.tap_config(tmp, **seq_config), tmp)
        if seq.returncode != 0:
            raise SystemExit(f"sequential tap failed:\n{seq.stderr[-3000:]}")
        seq_heavy = heavy_entries(sb.request_log(seq.started_epoch))
        seq_rate = rate(seq_heavy)
        print(f"one request at a time (max_workers 1, {sequential_days}-day backfill): "
              f"{len(seq_heavy)} Heavy requests, {status_counts(seq_heavy).get(429, 0)} HTTP 429, "
              f"achieved {seq_rate:.2f} req/s -> budget use {seq_rate / allowed:.3f} "
              f"(wall {seq.wall_s:.1f} s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="~50,000 events instead of ~210,000")
    parser.add_argument("--plans", nargs="+", default=["pro", "business"])
    parser.add_argument("--sequential-days", type=int, default=2)
    args = parser.parse_args()
    users = 500 if args.quick else 2000
    with tempfile.TemporaryDirectory() as tmp:
        for plan in args.plans:
            measure(plan, users, 19.0, args.sequential_days, Path(tmp))


if __name__ == "__main__":
    main()
