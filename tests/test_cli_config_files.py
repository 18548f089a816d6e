"""Both CLIs reject an unreadable --config file in one line with exit 2, never a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("command", ["tap-zoom-defender", "target-defender"])
@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "was not found"), ("{not json", "not valid JSON")],
    ids=["missing", "not-json"],
)
def test_unreadable_config_file_is_one_line_and_exit_2(tmp_path, command, content, expected):
    config = tmp_path / "config.json"
    if content is not None:
        config.write_text(content)
    done = subprocess.run(
        [str(BIN / command), "--config", str(config)],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert "--config" in errors[0]
    assert expected in errors[0]
    assert done.stdout == ""


@pytest.mark.parametrize("option", ["--state", "--catalog"])
def test_tap_rejects_a_non_json_state_or_catalog_in_one_line(tmp_path, option):
    config = tmp_path / "config.json"
    config.write_text('{"account_id": "a", "client_id": "b", "client_secret": "c"}')
    broken = tmp_path / "broken.json"
    broken.write_text('{"streams": [')
    done = subprocess.run(
        [str(BIN / "tap-zoom-defender"), "--config", str(config), option, str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 65
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1
    assert f"{option} {broken}: not valid JSON" in errors[0]
    assert done.stdout == ""
