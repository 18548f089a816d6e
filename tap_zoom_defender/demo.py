"""``make demo``: the whole pipeline against a local Zoom sandbox, no Zoom account needed.

Starts ``zoom-sandbox`` on a free port, runs ``meltano install`` and two pipelines with the
sandbox's URL and demo credentials:

* ``meltano --environment=demo run --full-refresh tap-zoom target-jsonl``: Zoom's own records,
  summarised per stream from ``demo-output/jsonl``;
* ``meltano --environment=demo run --full-refresh tap-zoom target-defender``: the same records in
  Microsoft's shapes (ASIM tables, IdentityInfo-shaped users) in ``demo-output/defender``, shown
  as counts and a few mapped rows per table.

The sandbox is stopped also when something fails. Exit status: 0 on success, otherwise the
failing step's status.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tap_zoom_defender.defender.summary import summarize as summarize_tables

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-output"
BIN = Path(sys.executable).parent
STREAMS = ("users", "activities", "operation_logs")
SANDBOX_ARGS = ("--plan", "pro", "--users", "50", "--days", "8", "--seed", "7")
STARTUP_TIMEOUT_S = 30.0


def _say(message: str) -> None:
    print(f"demo: {message}", flush=True)


def start_sandbox() -> tuple[subprocess.Popen, dict]:
    """Start ``zoom-sandbox`` on a free port; return the process and its URL/credential file."""
    url_file = OUT / "sandbox.json"
    url_file.unlink(missing_ok=True)
    log = (OUT / "sandbox.log").open("w")
    proc = subprocess.Popen(
        [str(BIN / "zoom-sandbox"), *SANDBOX_ARGS, "--port", "0", "--url-file", str(url_file)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not url_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError(f"the sandbox did not start; see {OUT / 'sandbox.log'}")
        time.sleep(0.05)
    return proc, json.loads(url_file.read_text())


def stop(proc: subprocess.Popen) -> None:
    """Stop the sandbox process we started (SIGTERM, then SIGKILL if it hangs)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def pipeline_env(info: dict) -> dict[str, str]:
    """Environment for Meltano: the sandbox's URLs and demo credentials.

    The TAP_ZOOM_* variables are set as well, so a production ``.env`` in the project (which
    Meltano loads) can never point the demo at a real account or vice versa.
    """
    env = dict(os.environ)
    values = {
        "API_URL": info["api_url"],
        "OAUTH_URL": info["oauth_url"],
        "ACCOUNT_ID": info["account_id"],
        "CLIENT_ID": info["client_id"],
        "CLIENT_SECRET": info["client_secret"],
    }
    for name, value in values.items():
        env[f"ZOOM_SANDBOX_{name}"] = value
        env[f"TAP_ZOOM_{name}"] = value
    env["TAP_ZOOM_REFRESH_TOKEN"] = ""
    env["TAP_ZOOM_TOKEN_STORE_PATH"] = ""
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    return env


def run_step(name: str, args: list[str], env: dict[str, str]) -> int:
    """Run one Meltano command with its output in demo-output/<name>.log; show it on failure."""
    log_path = OUT / f"{name}.log"
    _say(f"{' '.join(args[1:])}  (log: {log_path.relative_to(ROOT)})")
    with log_path.open("w") as log:
        code = subprocess.run(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=False
        ).returncode
    if code != 0:
        tail = log_path.read_text().splitlines()[-25:]
        print("\n".join(tail), file=sys.stderr)
        _say(f"'{name}' failed with exit code {code}")
    return code


def summarize(jsonl_dir: Path) -> list[str]:
    """One line per stream: how many records landed and which time span they cover."""
    lines = []
    for stream in STREAMS:
        path = jsonl_dir / f"{stream}.jsonl"
        records = (
            [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            if path.exists()
            else []
        )
        line = f"  {stream:<15} {len(records):>6} records"
        times = sorted(r["time"] for r in records if r.get("time"))
        if times:
            line += f"   {times[0]}  ..  {times[-1]}"
        if stream == "users":
            statuses = Counter(r.get("status") for r in records)
            line += "   " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
        if stream == "activities":
            kinds = Counter(r.get("type") for r in records)
            line += "   " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
        lines.append(line)
    return lines


def main() -> int:
    """Run the demo; return the exit status."""
    OUT.mkdir(exist_ok=True)
    jsonl_dir = OUT / "jsonl"
    defender_dir = OUT / "defender"
    for old in (jsonl_dir, defender_dir):
        shutil.rmtree(old, ignore_errors=True)  # a full refresh each run: no rows from earlier runs
    meltano = str(BIN / "meltano")
    _say("starting the Zoom sandbox (local emulator, demo credentials)")
    try:
        sandbox, info = start_sandbox()
    except RuntimeError as exc:
        _say(str(exc))
        return 1
    try:
        _say(f"sandbox at {info['base_url']}")
        env = pipeline_env(info)
        code = run_step("meltano-install", [meltano, "install"], env)
        if code:
            return code
        for target in ("target-jsonl", "target-defender"):
            started = time.monotonic()
            # --full-refresh: a fresh demo every time, ignoring state saved by earlier runs.
            run = [meltano, "--environment=demo", "run", "--full-refresh", "tap-zoom", target]
            code = run_step(f"meltano-run-{target}", run, env)
            if code:
                return code
            _say(f"tap-zoom -> {target} finished in {time.monotonic() - started:.1f} s")
        _say(f"Zoom records as the tap emits them ({jsonl_dir.relative_to(ROOT)}/):")
        print("\n".join(summarize(jsonl_dir)))
        _say(f"the same records in Microsoft's shapes ({defender_dir.relative_to(ROOT)}/):")
        summarize_tables(defender_dir, sample=2)
        return 0
    finally:
        stop(sandbox)
        _say("sandbox stopped")


if __name__ == "__main__":
    sys.exit(main())
