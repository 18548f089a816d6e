"""The first run already names every account: ``tap-zoom-defender | target-defender``.

The ``cloudappevents`` profile fills ``AccountDisplayName`` from the users stream. The tap emits
``users`` before the events, so the target knows every name before the first sign-in or admin
operation of the very first run arrives (no display-name file from an earlier run exists).
Real CLIs, a real pipe, the Zoom sandbox.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from .singer_io import read_rows, write_config

TAP = str(Path(sys.executable).with_name("tap-zoom-defender"))
TARGET = str(Path(sys.executable).with_name("target-defender"))


def _record_streams(tap_stdout: Path) -> list[str]:
    """The tap's RECORD streams in emission order, runs of one stream collapsed."""
    order: list[str] = []
    for line in tap_stdout.read_text(encoding="utf-8").splitlines():
        message = json.loads(line)
        if message.get("type") == "RECORD" and (not order or order[-1] != message["stream"]):
            order.append(message["stream"])
    return order


def test_first_run_rows_carry_the_display_names_of_their_accounts(sandbox_factory, tmp_path):
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=2)
    sb = sandbox_factory(users=15, days=2, late_fraction=0.0, now=start)
    out = tmp_path / "out"
    tap_config = write_config(
        tmp_path / "tap.json",
        {"account_id": sb.account_id, "client_id": sb.client_id,
         "client_secret": sb.client_secret, "api_url": sb.api_url, "oauth_url": sb.oauth_url,
         "lookback_days": 2, "quota_state_path": str(tmp_path / "quota.sqlite")},
    )  # fmt: skip
    target_config = write_config(
        tmp_path / "target.json", {"output_dir": str(out), "schema_profile": "cloudappevents"}
    )
    assert not (out / "zoom_account_names.json").exists(), "a first run: nothing learnt before"
    tap_out = tmp_path / "tap.out"
    with (
        open(tmp_path / "tap.log", "wb") as tap_log,
        open(tmp_path / "target.log", "wb") as target_log,
        open(tmp_path / "target.out", "wb") as target_out,
        open(tap_out, "wb") as copy,
    ):
        # tee the tap's output: the target reads the pipe, the test reads the copy
        tap = subprocess.Popen([TAP, "--config", str(tap_config)], stdout=subprocess.PIPE,
                               stderr=tap_log)  # fmt: skip
        target = subprocess.Popen([TARGET, "--config", str(target_config)],
                                  stdin=subprocess.PIPE, stdout=target_out,
                                  stderr=target_log)  # fmt: skip
        for chunk in iter(lambda: tap.stdout.read(65536), b""):
            copy.write(chunk)
            target.stdin.write(chunk)
        target.stdin.close()
        assert tap.wait(timeout=60) == 0, (tmp_path / "tap.log").read_text()[-3000:]
        assert target.wait(timeout=240) == 0, (tmp_path / "target.log").read_text()[-3000:]

    assert _record_streams(tap_out)[0] == "users", "users must come before the events"
    names = {u["email"].casefold(): u["display_name"] for u in sb.ground_truth("users")}
    rows = read_rows(out / "ZoomCloudAppEvents_CL.jsonl")
    sign_ins = [r for r in rows if not r["IsAdminOperation"]]
    admin_ops = [r for r in rows if r["IsAdminOperation"]]
    assert sign_ins and admin_ops, "both kinds of event were written"
    unnamed = [r["AccountId"] for r in rows if not r["AccountDisplayName"]]
    assert not unnamed, f"{len(unnamed)} of {len(rows)} first-run rows have no name: {unnamed[:3]}"
    wrong = [r for r in rows if r["AccountDisplayName"] != names[r["AccountId"].casefold()]]
    assert not wrong, wrong[:2]
