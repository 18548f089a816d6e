"""The summary the demo prints, read back from what the real target wrote."""

from __future__ import annotations

import subprocess
import sys

from .singer_io import activity, record, run_target, schema, state, write_config


def test_summary_counts_rows_and_distinct_keys(tmp_path):
    config = write_config(tmp_path / "c.json", {"output_dir": str(tmp_path / "out")})
    msgs = [
        schema("activities"),
        *(record("activities", activity(i)) for i in range(5)),
        state({"n": 5}),
    ]
    assert run_target(config, msgs).returncode == 0
    assert run_target(config, msgs).returncode == 0  # a re-send: same keys again

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tap_zoom_defender.defender.summary",
            str(tmp_path / "out"),
            "--rows",
            "2",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "ZoomAuthentication_CL: 10 rows, 5 distinct EventOriginalUid" in lines
    header = next(i for i, line in enumerate(lines) if "EventType" in line)
    assert len(lines[header + 1 : header + 3]) == 2
    assert "Logon" in lines[header + 1] and "2001:db8::0" in lines[header + 1]


def test_summary_of_an_empty_directory_fails(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "tap_zoom_defender.defender.summary", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "No table files" in done.stdout
