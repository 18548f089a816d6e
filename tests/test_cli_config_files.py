"""Both CLIs reject an unusable --config file in one line with exit 78, never a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
EXIT_CONFIG = 78


@pytest.mark.parametrize("command", ["tap-zoom-defender", "target-defender"])
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "file not found"),
        ("{not json", "not valid JSON"),
        ("[1, 2, 3]", "holds an array, not a JSON object"),
        ('"config.json"', "holds a string"),
        ("null", "holds null"),
        ("42", "holds a number"),
        (b"\xff\xfe{}", "not UTF-8"),
        ("directory", "is a directory"),
    ],
    ids=["missing", "not-json", "array", "string", "null", "number", "not-utf8", "directory"],
)
def test_unusable_config_file_is_one_line_and_exit_78(tmp_path, command, content, expected):
    config = tmp_path / "config.json"
    if content == "directory":
        config.mkdir()
    elif isinstance(content, bytes):
        config.write_bytes(content)
    elif content is not None:
        config.write_text(content)
    done = subprocess.run(
        [str(BIN / command), "--config", str(config)],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == EXIT_CONFIG, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line or "Error:" in line]
    assert len(errors) == 1, errors
    assert f"Configuration error: --config {config}: {expected}" in errors[0], errors[0]
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
