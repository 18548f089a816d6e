"""Measure the Zoom sandbox's own capacity so later benchmarks can show it is not the bottleneck.

Figures, each printed with what produced it:
1. in-process serving: full 300-record pages of /report/activities per second with rate limits
   off, from a few concurrent ``requests.Session`` clients in threads of the SAME process (the
   worst case: clients and server share one GIL), day cache warm;
2. subprocess serving: the same against ``zoom-sandbox`` running as its own process with a
   1,000,000-event account, starting cold (first touch of each day generates it), plus the
   server's RSS afterwards;
3. generation: seconds to generate every day of the 1,000,000-event account in-process, and
   this process's RSS afterwards (the day cache is bounded by ``cache_records``).

Usage: .venv/bin/python bench/sandbox_throughput.py [--seconds 10] [--clients 4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import psutil
import requests

from tap_zoom_defender.sandbox import Sandbox, SandboxConfig
from tap_zoom_defender.sandbox.store import utc_date

# 5,000 users (about 4,250 active) x 31 days x 8 events per user-day ~= 1,000,000 events.
MILLION = {"users": 5000, "days": 30, "events_per_user_day": 8.0}


def bearer(oauth_url: str, account_id: str, client_id: str, client_secret: str) -> str:
    r = requests.post(
        oauth_url,
        params={"grant_type": "account_credentials", "account_id": account_id},
        auth=(client_id, client_secret),
        timeout=10,
    )
    r.raise_for_status()
    return r.json()["access_token"]


def hammer(api_url: str, token: str, params: dict, seconds: float, clients: int) -> dict:
    """Page through /report/activities from ``clients`` threads; count full pages."""
    full = [0] * clients
    requests_made = [0] * clients
    errors: list[str] = []
    stop_at = time.perf_counter() + seconds

    def worker(i: int) -> None:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {token}"
        nxt = ""
        while time.perf_counter() < stop_at:
            r = s.get(
                api_url + "/report/activities",
                params={**params, "next_page_token": nxt},
                timeout=60,
            )
            requests_made[i] += 1
            if r.status_code != 200:
                errors.append(f"{r.status_code} {r.text[:100]}")
                return
            body = r.json()
            nxt = body["next_page_token"] or ""
            if len(body["activity_logs"]) == 300:
                full[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    return {
        "elapsed": elapsed,
        "full_pages_per_s": sum(full) / elapsed,
        "req_per_s": sum(requests_made) / elapsed,
        "errors": errors,
    }


def report(label: str, res: dict, clients: int) -> None:
    print(
        f"{label}: {clients} clients, {res['elapsed']:.1f}s: "
        f"{res['full_pages_per_s']:.0f} full 300-record pages/s, {res['req_per_s']:.0f} req/s "
        f"({res['full_pages_per_s'] * 300:.0f} records/s), errors={len(res['errors'])}"
    )
    if res["errors"]:
        print("  first error:", res["errors"][0])


def window(today: date, days: int) -> dict:
    return {
        "from": (today - timedelta(days=days)).isoformat(),
        "to": today.isoformat(),
        "page_size": 300,
    }


def in_process(seconds: float, clients: int) -> None:
    cfg = SandboxConfig(users=2000, days=14, seed=7, rate_limits=False, late_fraction=0.0)
    with Sandbox(cfg) as sb:
        token = bearer(sb.oauth_url, sb.account_id, sb.client_id, sb.client_secret)
        total = len(sb.ground_truth("activities"))  # also warms the day cache
        print(f"in-process dataset: {cfg.users} users x {cfg.days} days = {total} events (warm)")
        res = hammer(sb.api_url, token, window(sb.now().date(), 13), seconds, clients)
        report("in-process serving", res, clients)


def subprocess_server(seconds: float, clients: int) -> None:
    exe = Path(sys.executable).with_name("zoom-sandbox")
    with tempfile.TemporaryDirectory() as tmp:
        url_file = Path(tmp) / "sandbox.json"
        args = [
            str(exe), "--port", "0", "--no-rate-limits", "--url-file", str(url_file),
            "--users", str(MILLION["users"]), "--days", str(MILLION["days"]),
            "--events-per-user-day", str(MILLION["events_per_user_day"]),
        ]  # fmt: skip
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            while not url_file.exists():
                if proc.poll() is not None:
                    raise SystemExit(proc.stderr.read().decode())
                time.sleep(0.05)
            info = json.loads(url_file.read_text())
            token = bearer(
                info["oauth_url"], info["account_id"], info["client_id"], info["client_secret"]
            )
            server = psutil.Process(proc.pid)
            today = utc_date(time.time())
            res = hammer(info["api_url"], token, window(today, 30), seconds, clients)
            rss = server.memory_info().rss
            report("subprocess serving (1M-event account, cold cache)", res, clients)
            print(f"subprocess server RSS after serving: {rss / 2**20:.0f} MiB")
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def generation() -> None:
    cfg = SandboxConfig(seed=7, rate_limits=False, **MILLION)  # type: ignore[arg-type]
    proc = psutil.Process(os.getpid())
    rss0 = proc.memory_info().rss
    t0 = time.perf_counter()
    sb = Sandbox(cfg)
    last = utc_date(sb.clock.now()).toordinal()
    n = sum(len(sb.store.day("activities", d)[1]) for d in range(sb.store.first_day, last + 1))
    elapsed = time.perf_counter() - t0
    rss = proc.memory_info().rss
    days = last - sb.store.first_day + 1
    print(
        f"generation: {n} activity events ({cfg.users} users x {days} days) in {elapsed:.1f}s "
        f"= {n / elapsed:.0f} events/s ({elapsed / days:.2f}s per day)"
    )
    print(
        f"in-process RSS after generating them: {rss / 2**20:.0f} MiB (before: "
        f"{rss0 / 2**20:.0f} MiB; day cache bound {cfg.cache_records} records)"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0, help="duration of each serving run")
    p.add_argument("--clients", type=int, default=4, help="concurrent client sessions")
    args = p.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    in_process(args.seconds, args.clients)
    subprocess_server(args.seconds, args.clients)
    generation()


if __name__ == "__main__":
    main()
