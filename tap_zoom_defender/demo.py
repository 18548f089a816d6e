"""``make demo``: the whole pipeline against a local Zoom sandbox, no Zoom account needed.

Starts ``zoom-sandbox`` on a free port, runs ``meltano install`` and two pipelines with the
sandbox's URL and demo credentials:

* ``meltano --environment=demo run --full-refresh tap-zoom target-jsonl``: Zoom's own records,
  summarised per stream from ``demo-output/jsonl``;
* ``meltano --environment=demo run --full-refresh tap-zoom target-defender``: the same records in
  Microsoft's shapes (ASIM tables, IdentityInfo-shaped users) in ``demo-output/defender``, shown
  as counts and a few mapped rows per table;
* the same with ``destination: azure_monitor``: Microsoft's Logs Ingestion client sends the rows
  to ``azure-monitor-sandbox`` (a local emulator of Azure Monitor, over TLS), and the demo shows
  per table what Azure would *store*: rows sent, rows stored, and rows whose ``TimeGenerated``
  Azure replaced with the time it received them (older than two days, or a day ahead); then the
  same events through Sentinel's unifying ASIM parsers, which pick up the shipped Zoom parsers:
  each once, at the time Zoom reported it.

Meltano's system database and state backend are the demo's own (``demo-output/meltano.db`` and
``demo-output/state/``), so a later run in the dev or prod environment starts from scratch and
writes elsewhere (docs/operations.md). Both emulators are stopped also when something fails.
Exit status: 0 on success, otherwise the failing step's status.
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
    return start_emulator("zoom-sandbox", [*SANDBOX_ARGS])


def start_azure() -> tuple[subprocess.Popen, dict]:
    """Start ``azure-monitor-sandbox`` (the project's asim DCR and tables) on a free port."""
    return start_emulator("azure-monitor-sandbox", ["--ca-dir", str(OUT / "azure-ca")])


def start_emulator(name: str, args: list[str]) -> tuple[subprocess.Popen, dict]:
    """Start one emulator with ``--port 0 --url-file``; return it and what its file says."""
    url_file = OUT / f"{name}.json"
    url_file.unlink(missing_ok=True)
    log = (OUT / f"{name}.log").open("w")
    proc = subprocess.Popen(
        [str(BIN / name), *args, "--port", "0", "--url-file", str(url_file)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not url_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError(f"{name} did not start; see {OUT / f'{name}.log'}")
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


def pipeline_env(info: dict, out: Path = OUT) -> dict[str, str]:
    """Environment for Meltano: the sandbox's URLs and demo credentials.

    The TAP_ZOOM_* variables are set as well, so a production ``.env`` in the project (which
    Meltano loads) can never point the demo at a real account or vice versa.

    Meltano's system database and state backend are the demo's own, in ``out`` (demo-output/):
    nothing of the demo lands in the project's ``.meltano/meltano.db``, so a later dev or prod
    run can neither continue from the demo's bookmarks nor list its runs, and deleting
    demo-output/ forgets the demo entirely.
    """
    env = dict(os.environ)
    env["MELTANO_DATABASE_URI"] = f"sqlite:///{out / 'meltano.db'}"
    env["MELTANO_STATE_BACKEND_URI"] = (out / "state").as_uri()
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


def azure_env(env: dict[str, str], azure: dict, output_dir: Path) -> dict[str, str]:
    """target-defender's settings for the Azure Monitor emulator, as Meltano variables.

    Variables win over meltano.yml, so the demo environment's jsonl set-up stays as it is.
    """
    env = dict(env)
    settings = {
        "destination": "azure_monitor",
        "output_dir": str(output_dir),
        **azure["target_settings"],
    }
    for name, value in settings.items():
        env[f"TARGET_DEFENDER_{name.upper()}"] = (
            str(value).lower() if isinstance(value, bool) else str(value)
        )
    env.update(azure["env"])  # REQUESTS_CA_BUNDLE: trust the emulator's throwaway CA
    return env


def azure_summary(azure: dict) -> list[str]:
    """Per table: rows sent, rows Azure stored, rows whose TimeGenerated it replaced."""
    import requests

    tables = requests.get(azure["query_url"], verify=azure["ca_cert"], timeout=30).json()["tables"]
    lines = [f"  {'table':<30} {'sent':>6} {'stored':>7} {'TimeGenerated replaced':>23}"]
    for name, counts in sorted(tables.items()):
        if not counts["received"]:
            continue
        replaced = counts["time_generated_replaced"]
        share = f" ({replaced / counts['stored']:.0%})" if counts["stored"] else ""
        lines.append(
            f"  {name:<30} {counts['received']:>6} {counts['stored']:>7} {replaced:>16}{share:>7}"
        )
        dropped = counts.get("columns_dropped") or {}
        if dropped:
            lines.append(
                f"  {'':<30} columns the table lacks, dropped: {', '.join(sorted(dropped))}"
            )
    return lines


# table -> Sentinel's unifying parser that reads it through the shipped Zoom parser
SENTINEL_VIEWS = {
    "ZoomAuthentication_CL": "_Im_Authentication",
    "ZoomAuditEvent_CL": "_Im_AuditEvent",
}


def _kql(azure: dict, query: str) -> list[dict]:
    import requests

    reply = requests.post(
        azure["kql_url"], json={"query": query}, verify=azure["ca_cert"], timeout=120
    )
    reply.raise_for_status()
    return reply.json()["rows"]


def sentinel_summary(azure: dict) -> tuple[list[str], bool]:
    """Per ASIM table: rows whose stored TimeGenerated Azure replaced, and what Sentinel shows.

    Reads what the emulator stored, then the same events through Sentinel's unifying parser
    (``_Im_Authentication`` / ``_Im_AuditEvent``, which pick up the shipped Zoom parsers): each
    event should come back once, its TimeGenerated the event time kept in EventStartTime.
    """
    lines = [
        f"  {'table':<22} {'stored':>6} {'replaced':>9}   {'Sentinel view':<19} {'rows':>5} "
        f"{'at event time':>14} {'oldest event':>21}"
    ]
    ok = True
    for table, view in SENTINEL_VIEWS.items():
        stored = _kql(azure, f"{table} | project EventOriginalUid, TimeGenerated, EventStartTime")
        event_time = {r["EventOriginalUid"]: r["EventStartTime"] for r in stored}
        replaced = sum(1 for r in stored if r["TimeGenerated"] != r["EventStartTime"])
        seen = _kql(
            azure, f"{view} | where EventVendor == 'Zoom' | project EventOriginalUid, TimeGenerated"
        )
        right = sum(1 for r in seen if event_time.get(r["EventOriginalUid"]) == r["TimeGenerated"])
        once = len({r["EventOriginalUid"] for r in seen}) == len(seen) == len(stored)
        ok = ok and once and right == len(seen)
        oldest = min((r["TimeGenerated"] for r in seen), default="-")
        lines.append(
            f"  {table:<22} {len(stored):>6} {replaced:>9}   {view:<19} {len(seen):>5} "
            f"{right:>14} {oldest:>21}"
        )
    return lines, ok


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
    azure_dir = OUT / "defender-azure"
    for old in (jsonl_dir, defender_dir, azure_dir):
        shutil.rmtree(old, ignore_errors=True)  # a full refresh each run: no rows from earlier runs
    meltano = str(BIN / "meltano")
    _say("starting the Zoom sandbox and the Azure Monitor emulator (local, demo credentials)")
    started: list[subprocess.Popen] = []
    try:
        sandbox, info = start_sandbox()
        started.append(sandbox)
        azure_proc, azure = start_azure()
        started.append(azure_proc)
    except RuntimeError as exc:
        _say(str(exc))
        for proc in started:
            stop(proc)
        return 1
    try:
        _say(f"Zoom sandbox at {info['base_url']}, Azure Monitor emulator at {azure['endpoint']}")
        env = pipeline_env(info)
        code = run_step("meltano-install", [meltano, "install"], env)
        if code:
            return code
        steps = [
            ("target-jsonl", env),
            ("target-defender", env),
            ("target-defender", azure_env(env, azure, azure_dir)),
        ]
        for number, (target, step_env) in enumerate(steps):
            begun = time.monotonic()
            # --full-refresh: a fresh demo every time, ignoring state saved by earlier runs.
            run = [meltano, "--environment=demo", "run", "--full-refresh", "tap-zoom", target]
            label = f"meltano-run-{target}" + ("-azure-monitor" if number == 2 else "")
            code = run_step(label, run, step_env)
            if code:
                return code
            where = " (destination azure_monitor)" if number == 2 else ""
            _say(f"tap-zoom -> {target}{where} finished in {time.monotonic() - begun:.1f} s")
        _say(f"Zoom records as the tap emits them ({jsonl_dir.relative_to(ROOT)}/):")
        print("\n".join(summarize(jsonl_dir)))
        _say(f"the same records in Microsoft's shapes ({defender_dir.relative_to(ROOT)}/):")
        summarize_tables(defender_dir, sample=2)
        _say(
            "what Azure Monitor would store (the emulator's workspace, through Microsoft's client):"
        )
        print("\n".join(azure_summary(azure)))
        _say(
            "Azure replaced TimeGenerated (older than two days, or over a day ahead) with the "
            "time it received the row; EventStartTime keeps the event time, and the shipped "
            "ASIM parsers return it. The same events through Sentinel's unifying parsers:"
        )
        lines, ok = sentinel_summary(azure)
        print("\n".join(lines))
        if not ok:
            _say("ERROR: Sentinel's view does not show every event once at its event time")
            return 1
        _say(
            "every event once, at the time Zoom reported it (deploying this to a workspace: "
            "docs/sentinel.md)"
        )
        _say(
            "the demo's Meltano state and run history stay in demo-output/ (meltano.db, state/). "
            "Next: your own runs against `make sandbox` (environment dev, output/dev/), jobs, "
            "schedules and hashing emails: docs/operations.md"
        )
        return 0
    finally:
        for proc in started:
            stop(proc)
        _say("emulators stopped")


if __name__ == "__main__":
    sys.exit(main())
