"""Kill the pipeline at random points, resume each time, and count what was lost or duplicated.

``tap-zoom-defender | target-defender`` runs a 7-day backfill from a ``zoom-sandbox`` process.
Each *mode* is one campaign with its own output folder and state:

* signal: SIGTERM (graceful: 0 lost and 0 duplicated is the goal) or SIGKILL (0 lost; rows
  after the last acknowledged STATE are written again, with identical keys);
* who: ``tap`` (the tap alone; the target then sees the end of its input) or ``group`` (the whole
  process group, as Kubernetes, Airflow and Dagster stop a task);
* ``PYTHONUNBUFFERED`` set or unset (most container images set it).

A campaign starts the pipeline, sends the signal after a random delay, waits for both processes,
and keeps the last STATE target-defender acknowledged (what Meltano would store); the next
run resumes from it. After ``--kills`` signals that landed mid-run, one last run goes to the
end. The rows target-defender wrote (ZoomAuthentication_CL, ZoomAuditEvent_CL) are then
compared with the sandbox's ground truth by their Zoom fields: *lost* rows are in the truth
and not written, *duplicated* rows are written more than once.

    .venv/bin/python bench/chaos.py                       # 8 modes x 20 kills, ~57k activities
    .venv/bin/python bench/chaos.py --kills 3 --users 40 --modes SIGTERM/group/unbuffered
    .venv/bin/python bench/chaos.py --auth refresh_token  # the OAuth-app token chain too

``--json`` prints one JSON object (the test suite runs a small campaign that way). Exit status 1
if any mode lost a row, or duplicated one after SIGTERM, or if a run ended with an unexpected
exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BIN, TAP, sandbox

TARGET = str(BIN / "target-defender")
TABLES = {
    "activities": ("ZoomAuthentication_CL", ("email", "time", "type", "ip_address",
                                                   "client_type", "version")),
    "operation_logs": ("ZoomAuditEvent_CL", ("time", "operator", "category_type", "action",
                                              "operation_detail")),
}  # fmt: skip
SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}
ALL_MODES = [
    f"{sig}/{who}/{buffering}"
    for sig in SIGNALS
    for who in ("group", "tap")
    for buffering in ("unbuffered", "buffered")
]
#: What each process may exit with when signalled (anything else is a failure of the run).
#: 0: the run had already finished; -15: the signal came during interpreter start-up, before the
#: process could handle it (it had written nothing); 74: the tap found its target gone.
EXPECTED = {
    ("SIGTERM", "group"): ({143, 0, -15, 74}, {143, 0, -15}),
    ("SIGTERM", "tap"): ({143, 0, -15}, {0}),
    ("SIGKILL", "group"): ({-9, 0}, {-9, 0}),
    ("SIGKILL", "tap"): ({-9, 0}, {0, 65}),  # 65: the tap died mid-line (torn input)
}


@dataclass
class Mode:
    """One campaign's outcome."""

    name: str
    kills: int = 0  # signals that landed while the pipeline ran
    runs: int = 0
    lost: int = 0
    duplicated: int = 0
    duplicated_other_key: int = 0  # duplicates whose EventOriginalUid differs (should be 0)
    torn_rows: int = 0
    exit_codes: Counter = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """0 lost, no torn rows, no unexpected exit; after SIGTERM 0 duplicated too."""
        graceful = self.name.startswith("SIGTERM")
        return (
            self.lost == 0
            and self.torn_rows == 0
            and self.duplicated_other_key == 0
            and not self.unexpected
            and (self.duplicated == 0 or not graceful)
        )


def _env(tmp: Path, buffering: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TAP_ZOOM_DEFENDER_", "TARGET_DEFENDER_"))
    }
    env.pop("PYTHONUNBUFFERED", None)
    if buffering == "unbuffered":
        env["PYTHONUNBUFFERED"] = "1"
    env["XDG_STATE_HOME"] = str(tmp / "xdg")
    return env


def _run(
    tmp: Path,
    n: int,
    env: dict[str, str],
    state: dict | None,
    kill: tuple[str, str, float] | None,
) -> tuple[int, int, dict | None, bool]:
    """One pipeline run: (tap exit, target exit, last acknowledged STATE, signal landed)."""
    cmd = [TAP, "--config", str(tmp / "tap.json")]
    if state is not None:
        (tmp / "state.json").write_text(json.dumps(state))
        cmd += ["--state", str(tmp / "state.json")]
    logs = tmp / "logs"
    logs.mkdir(exist_ok=True)
    acks = logs / f"acks-{n}.jsonl"
    with (
        (logs / f"tap-{n}.log").open("w") as tap_err,
        (logs / f"target-{n}.log").open("w") as target_err,
        acks.open("w") as target_out,
    ):
        tap = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=tap_err, env=env, process_group=0
        )
        target = subprocess.Popen(
            [TARGET, "--config", str(tmp / "target.json")],
            stdin=tap.stdout,
            stdout=target_out,
            stderr=target_err,
            env=env,
            process_group=tap.pid,
        )
        assert tap.stdout is not None
        tap.stdout.close()  # the target's end only: the tap sees EPIPE if the target dies
        landed = False
        if kill is not None:
            name, who, delay = kill
            try:
                tap.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                landed = True
                if who == "group":
                    os.killpg(tap.pid, SIGNALS[name])
                else:
                    tap.send_signal(SIGNALS[name])
        tap_rc = tap.wait(timeout=300)
        target_rc = target.wait(timeout=300)
    lines = [line for line in acks.read_text().splitlines() if line.strip()]
    last = json.loads(lines[-1]) if lines else None
    return tap_rc, target_rc, last, landed


def _rows(out: Path) -> tuple[dict[str, list[dict]], int]:
    """Rows per stream from target-defender's table files, and how many lines were torn."""
    rows: dict[str, list[dict]] = {}
    torn = 0
    for stream, (table, _) in TABLES.items():
        rows[stream] = []
        path = out / f"{table}.jsonl"
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows[stream].append(json.loads(line))
            except ValueError:
                torn += 1
    return rows, torn


def campaign(args: argparse.Namespace, sb, mode_name: str, truths: tuple, seed: int) -> Mode:
    """Run one mode: kills at random points, resumes, one last full run; count the damage."""
    name, who, buffering = mode_name.split("/")
    rng = random.Random(seed)
    mode = Mode(mode_name)
    with tempfile.TemporaryDirectory(prefix="chaos-") as scratch:
        tmp = Path(scratch)
        (tmp / "tap.json").write_text(json.dumps(_tap_config(args, sb, tmp)))
        (tmp / "target.json").write_text(json.dumps({"output_dir": str(tmp / "out")}))
        env = _env(tmp, buffering)
        state: dict | None = None
        attempts = 0
        while mode.kills < args.kills and attempts < args.kills * 3:
            attempts += 1
            delay = rng.uniform(args.min_delay, args.max_delay)
            tap_rc, target_rc, ack, landed = _run(tmp, mode.runs, env, state, (name, who, delay))
            mode.runs += 1
            mode.kills += landed
            mode.exit_codes[f"{tap_rc}/{target_rc}"] += 1
            tap_ok, target_ok = EXPECTED[(name, who)]
            if tap_rc not in tap_ok or target_rc not in target_ok:
                mode.unexpected.append(f"run {mode.runs}: tap {tap_rc}, target {target_rc}")
            state = ack or state
        tap_rc, target_rc, ack, _ = _run(tmp, mode.runs, env, state, None)
        mode.runs += 1
        mode.exit_codes[f"{tap_rc}/{target_rc}"] += 1
        if (tap_rc, target_rc) != (0, 0):
            mode.unexpected.append(f"final run: tap {tap_rc}, target {target_rc}")
        rows, mode.torn_rows = _rows(tmp / "out")
        for stream, (_, fields) in TABLES.items():
            got = Counter(
                tuple(r["AdditionalFields"]["ZoomRecord"].get(f) for f in fields)
                for r in rows[stream]
            )
            truth, extended = truths[0][stream], truths[1][stream]
            mode.lost += sum((truth - got).values())
            extra = sum((got - extended).values())
            mode.duplicated += extra
            uids = Counter(r["EventOriginalUid"] for r in rows[stream])
            repeated_uids = sum(n - 1 for n in uids.values())
            mode.duplicated_other_key += max(0, extra - repeated_uids)
        if args.keep_failed and not mode.ok:
            kept = Path(tempfile.mkdtemp(prefix="chaos-failed-"))
            subprocess.run(["cp", "-a", f"{tmp}/.", str(kept)], check=False)
            mode.unexpected.append(f"kept in {kept}")
    return mode


def _tap_config(args: argparse.Namespace, sb, tmp: Path) -> dict:
    config = sb.tap_config(
        tmp,
        start_date=args.start.isoformat(),
        page_size=args.page_size,
        max_workers=args.max_workers,
    )
    if args.auth == "refresh_token":
        del config["account_id"]
        config["refresh_token"] = sb.issue_refresh_token()  # one consent per campaign
        config["token_store_path"] = str(tmp / "zoom-token.json")
    return config


def main() -> int:
    """Parse options, run every mode against one sandbox, print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default=",".join(ALL_MODES), help="comma-separated modes")
    parser.add_argument("--kills", type=int, default=20, help="signals per mode (default 20)")
    parser.add_argument("--users", type=int, default=2000, help="sandbox users (default 2000)")
    parser.add_argument("--latency", type=float, default=0.01, help="sandbox latency per request")
    parser.add_argument("--plan", default="business", help="Zoom plan (sets the tap's pacing)")
    parser.add_argument("--page-size", type=int, default=300)
    parser.add_argument("--max-workers", type=int, default=8)
    parser.add_argument("--min-delay", type=float, default=0.8, help="earliest kill (s)")
    parser.add_argument("--max-delay", type=float, default=6.0, help="latest kill (s)")
    parser.add_argument("--auth", choices=["server_to_server", "refresh_token"],
                        default="server_to_server")  # fmt: skip
    parser.add_argument("--token-ttl", type=float, default=3600.0,
                        help="sandbox access-token lifetime (short: more refreshes)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--keep-failed", action="store_true", help="keep a failed mode's files")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    unknown = sorted(set(modes) - set(ALL_MODES))
    if unknown:
        parser.error(f"unknown mode(s) {unknown}; choose from {ALL_MODES}")

    sandbox_args = ["--plan", args.plan, "--users", str(args.users), "--days", "8",
                    "--seed", str(args.seed),
                    "--latency", str(args.latency), "--late-fraction", "0",
                    "--token-ttl", str(args.token_ttl)]  # fmt: skip
    started = time.perf_counter()
    with sandbox(*sandbox_args) as sb:
        now = datetime.fromisoformat(sb.control("status")["now"])
        args.start = (now - timedelta(days=7)).astimezone(timezone.utc).replace(microsecond=0)
        # A resumed run re-reads late_arrival_hours (6) before its bookmark, which can reach
        # before start_date: those rows are extra, not duplicates. Lost counts the range only.
        reread = args.start - timedelta(hours=6)
        truth, extended = {}, {}
        for stream, (_, fields) in TABLES.items():
            records = sb.control(
                "ground_truth", stream=stream, start=reread.isoformat(), end=now.isoformat()
            )["records"]
            key = args.start.strftime("%Y-%m-%dT%H:%M:%SZ")
            extended[stream] = Counter(tuple(r.get(f) for f in fields) for r in records)
            truth[stream] = Counter(
                tuple(r.get(f) for f in fields) for r in records if r["time"] >= key
            )
        results = [
            campaign(args, sb, mode, (truth, extended), args.seed + i)
            for i, mode in enumerate(modes)
        ]
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps({
            "truth": {s: sum(c.values()) for s, c in truth.items()},
            "seconds": round(elapsed, 1),
            "modes": [{**asdict(m), "exit_codes": dict(m.exit_codes), "ok": m.ok}
                      for m in results],
        }))  # fmt: skip
    else:
        counts = ", ".join(f"{sum(c.values())} {s}" for s, c in truth.items())
        print(f"chaos: 7-day backfill of {counts}; auth {args.auth}; {elapsed:.0f} s")
        print(f"{'mode':<28} {'kills':>5} {'runs':>4} {'lost':>5} {'dup':>6} {'dup≠key':>7} "
              f"{'torn':>4}  exit codes tap/target")  # fmt: skip
        for m in results:
            codes = " ".join(f"{k} x{v}" for k, v in sorted(m.exit_codes.items()))
            print(f"{m.name:<28} {m.kills:>5} {m.runs:>4} {m.lost:>5} {m.duplicated:>6} "
                  f"{m.duplicated_other_key:>7} {m.torn_rows:>4}  {codes}"
                  f"{'' if m.ok else '  FAILED ' + '; '.join(m.unexpected)}")  # fmt: skip
    return 0 if all(m.ok for m in results) else 1


if __name__ == "__main__":
    sys.exit(main())
