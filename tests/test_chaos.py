"""A small run of bench/chaos.py: kill the real pipeline at random points, resume, count.

``tap-zoom-defender | target-defender`` against a ``zoom-sandbox`` process, stopped by SIGTERM
and SIGKILL (the tap alone and the whole process group, with and without PYTHONUNBUFFERED), each
campaign resumed from the last STATE target-defender acknowledged. The full campaign (20 kills
per mode, ~57k activities) is ``.venv/bin/python bench/chaos.py``; this one is bounded to a few
kills on a small account so the suite stays quick.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CHAOS = Path(__file__).resolve().parent.parent / "bench" / "chaos.py"
MODES = [
    "SIGTERM/group/unbuffered",
    "SIGTERM/tap/buffered",
    "SIGKILL/group/unbuffered",
    "SIGKILL/tap/buffered",
]


def test_killed_and_resumed_pipelines_lose_nothing_and_sigterm_duplicates_nothing():
    proc = subprocess.run(
        [
            sys.executable,
            str(CHAOS),
            "--json",
            "--modes",
            ",".join(MODES),
            "--kills",
            "3",
            "--users",
            "120",
            "--latency",
            "0.02",
            "--page-size",
            "100",
            "--min-delay",
            "0.7",
            "--max-delay",
            "1.8",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.stdout, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["truth"]["activities"] > 1000
    for mode in report["modes"]:
        assert mode["kills"] >= 1, mode  # the signals landed mid-run
        assert mode["lost"] == 0, mode
        assert mode["torn_rows"] == 0, mode
        assert mode["duplicated_other_key"] == 0, mode  # a repeat is always the same row
        assert not mode["unexpected"], mode  # every exit code was the expected one
        if mode["name"].startswith("SIGTERM"):
            assert mode["duplicated"] == 0, mode
    assert proc.returncode == 0, proc.stderr[-3000:]
