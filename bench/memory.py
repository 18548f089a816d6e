"""Peak memory of the tap for 10x more events (performance target 4 of issue 4).

Three backfills, each served by its own sandbox process with rate limits off (memory is about
volume, not pacing), the tap as its real CLI with default settings (concurrent listings) writing
to a pipe that is read and dropped. Peak RSS is the tap process's ``VmHWM``.

* base:   2,000 users x 19 events/user-day, 7 days   (~210,000 events)
* longer: the same account, 70 days                 (~2,100,000 events: 10x the days)
* denser: 20,000 users, 7 days                      (~2,100,000 events: 10x per day)

"Longer" is what bounded queues and spooling are for: memory must not follow the volume.
"Denser" also grows the one thing that is meant to follow the data: the late-arrival dedupe set
(ids of the last ``late_arrival_hours`` of events, kept in state), plus the ids of the window
being emitted (needed to resume an interrupted window without duplicates). Target: <= 1.3.

Usage: .venv/bin/python bench/memory.py [--quick]   (--quick: a quarter of the users)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import UNLIMITED, run_tap, sandbox


def backfill(label: str, users: int, days: int, tmp: Path) -> tuple[int, int]:
    args = ["--no-rate-limits", "--users", str(users), "--days", str(days + 1), "--seed", "7",
            "--events-per-user-day", "19", "--late-fraction", "0",
            # The denser account's week does not fit the default 300,000-record day cache.
            "--cache-records", str(max(300_000, users * 19 * 10))]  # fmt: skip
    with sandbox(*args) as sb:
        config = sb.tap_config(
            tmp,
            lookback_days=days,
            rate_limit_share=1.0,
            rate_limits_per_second=UNLIMITED,
            daily_request_budget=1_000_000,
        )
        run = run_tap(config, tmp)
        if run.returncode != 0:
            raise SystemExit(f"tap failed ({run.returncode}):\n{run.stderr[-3000:]}")
        print(f"{label:<7} {users:>6,} users x {days:>2} days: {run.records:>10,} records in "
              f"{run.wall_s:6.1f} s, peak RSS {run.max_rss_kb / 1024:6.1f} MiB "
              f"({run.workers('activities')} workers)", flush=True)  # fmt: skip
        return run.records, run.max_rss_kb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    users = 500 if args.quick else 2000
    with tempfile.TemporaryDirectory() as tmp:
        base_n, base_rss = backfill("base", users, 7, Path(tmp))
        for label, scaled_users, days in (("longer", users, 70), ("denser", users * 10, 7)):
            n, rss = backfill(label, scaled_users, days, Path(tmp))
            print(f"  {label}: records x{n / base_n:.1f} -> peak RSS x{rss / base_rss:.3f} "
                  f"(target <= 1.3)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
