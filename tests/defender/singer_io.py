"""Helpers to drive the real ``target-defender`` CLI with Singer messages on stdin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TARGET = str(Path(sys.executable).with_name("target-defender"))

ACTIVITY_SCHEMA = {
    "type": "object",
    "properties": {
        "email": {"type": "string"},
        "time": {"type": "string", "format": "date-time"},
        "type": {"type": "string"},
        "ip_address": {"type": ["string", "null"]},
        "client_type": {"type": ["string", "null"]},
        "version": {"type": ["string", "null"]},
        "event_id": {"type": "string"},
    },
}
OPERATION_SCHEMA = {
    "type": "object",
    "properties": {
        "time": {"type": "string", "format": "date-time"},
        "operator": {"type": ["string", "null"]},
        "category_type": {"type": ["string", "null"]},
        "action": {"type": ["string", "null"]},
        "operation_detail": {"type": ["string", "null"]},
        "event_id": {"type": "string"},
    },
}
USER_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "email": {"type": "string"},
        "first_name": {"type": ["string", "null"]},
        "last_name": {"type": ["string", "null"]},
        "display_name": {"type": ["string", "null"]},
        "status": {"type": ["string", "null"]},
        "type": {"type": ["integer", "null"]},
    },
}
KEYS = {"activities": ["event_id"], "operation_logs": ["event_id"], "users": ["id"]}
SCHEMAS = {"activities": ACTIVITY_SCHEMA, "operation_logs": OPERATION_SCHEMA, "users": USER_SCHEMA}


def schema(stream: str, schema_dict: dict | None = None, keys: list | None = None) -> dict:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": schema_dict or SCHEMAS[stream],
        "key_properties": keys if keys is not None else KEYS.get(stream, []),
    }


def record(stream: str, rec: dict) -> dict:
    return {"type": "RECORD", "stream": stream, "record": rec}


def state(value: dict) -> dict:
    return {"type": "STATE", "value": value}


def activity(i: int, *, email: str | None = None) -> dict:
    return {
        "email": email or f"user{i % 7}@example.com",
        "time": f"2026-03-{1 + i // 86400 % 28:02d}T{i // 3600 % 24:02d}:"
        f"{i // 60 % 60:02d}:{i % 60:02d}Z",
        "type": "Sign in" if i % 2 == 0 else "Sign out",
        "ip_address": f"2001:db8::{i:x}" if i % 3 == 0 else f"198.51.100.{i % 250}",
        "client_type": ["Windows", "Mac", "iOS", "Browser"][i % 4],
        "version": "6.1.0",
        "event_id": f"{i:064x}",
    }


def encode(messages: list[dict]) -> str:
    return "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in messages)


def write_config(path: Path, config: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def run_target(
    config_path: Path, messages: list[dict] | str, *, env: dict | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run the real CLI to completion; stdout/stderr as text."""
    data = messages if isinstance(messages, str) else encode(messages)
    return subprocess.run(
        [TARGET, "--config", str(config_path)],
        input=data,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def states(stdout: str) -> list[dict]:
    """The STATE values the target acknowledged (its stdout is only STATE lines)."""
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR" in line or "ERROR" in line[:40]]
