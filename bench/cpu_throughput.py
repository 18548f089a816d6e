"""CPU throughput of the tap vs a bare ``requests`` + ``json`` loop (performance target 3).

A ``zoom-sandbox`` process with rate limits off and no latency serves a 7-day account of
~210,000 sign-in events (days generated before the clock starts). Then:

1. the tap as its real CLI, default settings except no pacing (``rate_limits_per_second`` set
   very high), stdout read and dropped: records/s = records emitted / wall time of the whole
   process (and without the interpreter + SDK start-up, measured with ``--about``);
2. a bare loop fetching the same listings (the tap's day windows, the first one stopped where
   the tap stops) with ``requests`` and ``json.loads`` and counting records: sequentially, and
   with one thread per listing like the tap; the faster of the two is the reference;
3. the tap once more under cProfile with ``max_workers: 1`` (cProfile sees one thread; the same
   work then all runs on it) and a summary of where the time goes.

Usage: .venv/bin/python bench/cpu_throughput.py [--quick] [--no-profile]
"""

from __future__ import annotations

import argparse
import pstats
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import TAP, UNLIMITED, bare, listings, run_tap, sandbox

# What to report from the profile: label -> function (file suffix, name); cumulative seconds.
PROFILE_GROUPS = {
    "HTTP send/receive (requests, sockets)": ("requests/sessions.py", "send"),
    "JSON decode of pages (once per page)": ("tap_zoom_defender/client.py", "response_body"),
    "event_id keying (canonical JSON + SHA-256)": ("tap_zoom_defender/windows.py", "assign"),
    "window location of each record": ("tap_zoom_defender/windows.py", "position"),
    "SDK: RECORD messages (conform, serialize, write)": (
        "singer_sdk/streams/core.py",
        "_write_record_message",
    ),
    "SDK: type conformance": ("singer_sdk/helpers/_typing.py", "conform_record_data_types"),
    "RECORD lines written (tap_zoom_defender.message_writer)": (
        "tap_zoom_defender/message_writer.py",
        "write_message",
    ),
    "STATE messages": ("singer_sdk/streams/core.py", "_write_state_message"),
    "dedupe + state bookkeeping": ("tap_zoom_defender/windows.py", "mark_emitted"),
}


def summarize(profile_path: Path, total_records: int) -> None:
    stats = pstats.Stats(str(profile_path))
    raw = stats.stats  # type: ignore[attr-defined]
    total = max(ct for (_, _, _, ct, _) in raw.values())
    print(
        f"\nprofile (cProfile, max_workers 1, {total_records:,} records, "
        f"{total:.1f} s under the profiler):"
    )
    for label, (suffix, name) in PROFILE_GROUPS.items():
        cum = sum(
            v[3] for (file, _, func), v in raw.items() if func == name and file.endswith(suffix)
        )
        print(f"  {label:<52} {cum:6.2f} s  {100 * cum / total:5.1f}%")
    print("  top functions by own time:")
    rows = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:12]
    for (file, line, func), (_, _, tottime, _, _) in rows:
        short = "/".join(Path(file).parts[-2:])
        print(f"    {tottime:6.2f} s  {func} ({short}:{line})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="~50,000 events")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    users = 500 if args.quick else 2000
    sandbox_args = [
        "--no-rate-limits",
        "--users",
        str(users),
        "--days",
        "8",
        "--seed",
        "7",
        "--events-per-user-day",
        "19",
        "--late-fraction",
        "0",
    ]
    with tempfile.TemporaryDirectory() as tmp_name, sandbox(*sandbox_args) as sb:
        tmp = Path(tmp_name)
        now = datetime.now(timezone.utc)
        sb.count("activities", now - timedelta(days=10), now + timedelta(days=1))  # warm
        sb.count("operation_logs", now - timedelta(days=10), now + timedelta(days=1))
        fast = {
            "lookback_days": 7,
            "rate_limit_share": 1.0,
            "rate_limits_per_second": UNLIMITED,
            "daily_request_budget": 1_000_000,
        }

        about = run_tap(sb.tap_config(tmp, **fast), tmp, suffix=["--about"])
        run = run_tap(sb.tap_config(tmp, **fast), tmp)
        if run.returncode != 0:
            raise SystemExit(f"tap failed:\n{run.stderr[-3000:]}")
        _, start, end = run.windows("activities")
        tap_rate = run.records / run.wall_s
        sync_rate = run.records / (run.wall_s - about.wall_s)
        print(
            f"tap ({run.workers('activities')} workers): {run.records:,} records in "
            f"{run.wall_s:.2f} s = {tap_rate:,.0f} records/s (whole process); start-up "
            f"{about.wall_s:.2f} s (--about), without it {sync_rate:,.0f} records/s"
        )

        params = listings(start, end)
        seq_n, seq_s, _ = bare(sb, params, start, threads=False)
        thr_n, thr_s, _ = bare(sb, params, start, threads=True)
        print(
            f"bare requests + json.loads, sequential: {seq_n:,} records in {seq_s:.2f} s = "
            f"{seq_n / seq_s:,.0f} records/s"
        )
        print(
            f"bare requests + json.loads, {len(params)} threads: {thr_n:,} records in "
            f"{thr_s:.2f} s = {thr_n / thr_s:,.0f} records/s"
        )
        best = max(seq_n / seq_s, thr_n / thr_s)
        print(
            f"ratio tap / bare: {tap_rate / best:.3f} whole process, "
            f"{sync_rate / best:.3f} without start-up (target >= 0.5)"
        )

        if not args.no_profile:
            profile = tmp / "tap.prof"
            prof = run_tap(
                sb.tap_config(tmp, max_workers=1, **fast),
                tmp,
                prefix=[sys.executable, "-m", "cProfile", "-o", str(profile)],
            )
            if prof.returncode != 0:
                raise SystemExit(f"profiled tap failed:\n{prof.stderr[-3000:]}")
            summarize(profile, prof.records)
    _ = TAP


if __name__ == "__main__":
    main()
