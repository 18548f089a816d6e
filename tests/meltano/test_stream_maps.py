"""Stream maps through Meltano: the pseudonymisation recipe of docs/operations.md, as written.

The SDK's capability settings are declared in meltano.yml, so ``meltano config set`` stores them
and ``TAP_ZOOM_*`` variables reach the tap. A hash wrapped in ``str(...)`` no longer claims
``format: email``, so a loader that validates formats (target-duckdb) takes every row, and
target-defender maps the hashed values without failing.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml

from .conftest import PROJECT, MeltanoProject

DOC = PROJECT / "docs" / "operations.md"
TAP = str(Path(sys.executable).with_name("tap-zoom-defender"))
DUCKDB_VENV = PROJECT / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin"
CAPABILITY_SETTINGS = {
    "stream_maps": "object",
    "stream_map_config": "object",
    "faker_config": "object",
    "flattening_enabled": "boolean",
    "flattening_max_depth": "integer",
    "batch_config": "object",
}


def doc_block(marker: str) -> str:
    """The fenced block that follows ``marker`` in docs/operations.md, without its fences."""
    after = DOC.read_text().split(marker, 1)[1]
    return after.split("```", 2)[1].split("\n", 1)[1]


def keyed(salt: str, value: str | None) -> str | None:
    """What the recipe's ``str(sha256(config['salt'] + value)) if value else None`` gives."""
    return hashlib.sha256((salt + value).encode()).hexdigest() if value else None


def expected(zoom, salt: str) -> dict:
    """The sandbox's ground truth, pseudonymised as the recipe does."""
    return {
        "users": {u["id"]: keyed(salt, u["email"]) for u in zoom.ground_truth("users")},
        "activities": Counter(
            (keyed(salt, a.get("email")), keyed(salt, a.get("ip_address")))
            for a in zoom.ground_truth("activities")
        ),
        "operators": Counter(
            keyed(salt, o.get("operator")) for o in zoom.ground_truth("operation_logs")
        ),
    }


def loaded_values(records: dict[str, list[dict]]) -> dict:
    """The same view of the tap's records (per stream) as :func:`expected` gives."""
    return {
        "users": {u["id"]: u["email"] for u in records["users"]},
        "activities": Counter((a["email"], a["ip_address"]) for a in records["activities"]),
        "operators": Counter(o["operator"] for o in records["operation_logs"]),
    }


def duckdb_rows(database: Path) -> dict:
    """Read the loaded tables with the loader's own duckdb."""
    script = (
        "import duckdb, json, sys\n"
        "c = duckdb.connect(sys.argv[1], read_only=True)\n"
        "q = lambda sql: [list(r) for r in c.execute(sql).fetchall()]\n"
        "print(json.dumps({'users': q('select id, email from zoom.users'),\n"
        "  'activities': q('select email, ip_address from zoom.activities'),\n"
        "  'operators': q('select operator from zoom.operation_logs')}))\n"
    )
    done = subprocess.run(
        [str(DUCKDB_VENV / "python"), "-c", script, str(database)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    tables = json.loads(done.stdout)
    return {
        "users": {user_id: email for user_id, email in tables["users"]},
        "activities": Counter((email, ip) for email, ip in tables["activities"]),
        "operators": Counter(operator for (operator,) in tables["operators"]),
    }


def test_capability_settings_are_declared_with_their_kinds():
    config = yaml.safe_load((PROJECT / "meltano.yml").read_text())
    plugins = {p["name"]: p for kind in config["plugins"].values() for p in kind}
    tap = {s["name"]: s.get("kind") for s in plugins["tap-zoom"]["settings"]}
    assert {name: tap.get(name) for name in CAPABILITY_SETTINGS} == CAPABILITY_SETTINGS
    target = {s["name"]: s.get("kind") for s in plugins["target-defender"]["settings"]}
    assert {name: target.get(name) for name in CAPABILITY_SETTINGS if name != "batch_config"} == {
        name: kind for name, kind in CAPABILITY_SETTINGS.items() if name != "batch_config"
    }


def test_documented_recipe_hashes_into_a_format_validating_target(project: MeltanoProject, zoom):
    done = project.sh("set -euo pipefail\n" + doc_block("the block runs as written -->"))

    assert done.returncode == 0, done.stderr[-3000:]
    assert "Unknown setting" not in done.stdout + done.stderr
    # The salt is a secret: in .env (git-ignored), not in meltano.yml.
    line = next(
        x for x in (project.root / ".env").read_text().splitlines()
        if x.startswith("TAP_ZOOM_STREAM_MAP_CONFIG=")
    )  # fmt: skip
    salt = json.loads(line.split("=", 1)[1].strip("'"))["salt"]
    assert len(salt) == 64
    assert salt not in (project.root / "meltano.yml").read_text()

    loaded = duckdb_rows(project.root / "output" / "dev" / "warehouse.duckdb")
    assert loaded == expected(zoom, salt)
    assert not any("@" in (email or "") for email in loaded["users"].values())


def test_a_bare_hash_keeps_format_email_and_a_validating_target_rejects_it(tmp_path: Path, zoom):
    """Why the recipe wraps the hash in str(): the trap it avoids, through the real tap."""
    config = {
        **zoom.tap_config(lookback_days=3),
        "quota_state_path": str(tmp_path / "quota.sqlite"),
        "stream_maps": {"users": {"email": "md5(email)"}},
    }
    (tmp_path / "tap.json").write_text(json.dumps(config))
    tap = subprocess.run(
        [TAP, "--config", str(tmp_path / "tap.json")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert tap.returncode == 0, tap.stderr[-2000:]
    schema = next(
        json.loads(x)["schema"] for x in tap.stdout.splitlines() if '"SCHEMA","stream":"users"' in x
    )
    assert schema["properties"]["email"].get("format") == "email"

    (tmp_path / "duckdb.json").write_text(json.dumps(
        {"filepath": str(tmp_path / "warehouse.duckdb"), "default_target_schema": "zoom",
         "validate_records": True}
    ))  # fmt: skip
    target = subprocess.run(
        [str(DUCKDB_VENV / "target-duckdb"), "--config", str(tmp_path / "duckdb.json")],
        input=tap.stdout, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert target.returncode != 0
    assert "does not pass schema validation" in target.stderr


def invoke_tap(project: MeltanoProject, env: dict[str, str]) -> list[dict]:
    """``meltano invoke tap-zoom`` (the dev environment): the Singer messages it printed."""
    done = project.meltano("invoke", "tap-zoom", env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")]


def test_environment_variables_reach_the_tap_and_the_schema_drops_the_formats(
    project: MeltanoProject, zoom
):
    salt = "a-salt-for-the-test"
    maps = doc_block("TAP_ZOOM_STREAM_MAPS as written -->")
    env = {"TAP_ZOOM_STREAM_MAPS": maps, "TAP_ZOOM_STREAM_MAP_CONFIG": json.dumps({"salt": salt})}

    messages = invoke_tap(project, env)

    schemas = {m["stream"]: m["schema"]["properties"] for m in messages if m["type"] == "SCHEMA"}
    for stream, prop in [("users", "email"), ("activities", "email"),
                         ("activities", "ip_address"), ("operation_logs", "operator")]:  # fmt: skip
        assert "format" not in schemas[stream][prop], (stream, prop, schemas[stream][prop])
        assert "string" in schemas[stream][prop]["type"]
    assert "host_key" not in schemas["users"]
    records: dict[str, list[dict]] = {}
    for message in (m for m in messages if m["type"] == "RECORD"):
        records.setdefault(message["stream"], []).append(message["record"])
    assert loaded_values(records) == expected(zoom, salt)


def test_stream_maps_with_batch_config_are_refused_before_anything_is_written(
    project: MeltanoProject, tmp_path: Path
):
    """The SDK writes BATCH files without the maps (meltano/sdk#1117): emails would leave in
    clear while the SCHEMA says they are hashed. The tap refuses the pair with one line."""
    batches = tmp_path / "batches"
    env = {
        "TAP_ZOOM_STREAM_MAPS": doc_block("TAP_ZOOM_STREAM_MAPS as written -->"),
        "TAP_ZOOM_STREAM_MAP_CONFIG": json.dumps({"salt": "s"}),
        "TAP_ZOOM_BATCH_CONFIG": json.dumps({
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "storage": {"root": batches.as_uri()},
        }),
    }  # fmt: skip

    done = project.meltano("invoke", "tap-zoom", env=env)

    assert done.returncode == 78, done.stderr[-3000:]
    assert "stream_maps and batch_config are both set" in done.stderr
    assert "Traceback" not in done.stderr
    assert not [x for x in done.stdout.splitlines() if x.startswith("{")]
    assert not batches.exists() or not any(batches.iterdir())


def test_hashed_email_and_ip_still_map_in_target_defender(project: MeltanoProject, zoom):
    """The tap hashes (TAP_ZOOM_*); target-defender's own stream maps (TARGET_DEFENDER_*) drop
    Zoom's free-text operation_detail, which can name users by email: nothing stays clear."""
    salt = "another-salt"
    env = {
        "TAP_ZOOM_STREAM_MAPS": doc_block("TAP_ZOOM_STREAM_MAPS as written -->"),
        "TAP_ZOOM_STREAM_MAP_CONFIG": json.dumps({"salt": salt}),
        "TARGET_DEFENDER_STREAM_MAPS": json.dumps(
            {"operation_logs": {"operation_detail": "__NULL__"}}
        ),
    }

    done = project.meltano("run", "tap-zoom", "target-defender", env=env)

    assert done.returncode == 0, done.stderr[-3000:]
    out = project.root / "output/dev/defender"
    tables = ("ZoomIdentityInfo_CL", "ZoomAuthentication_CL", "ZoomAuditEvent_CL")
    identity, sign_ins, audit = (project.rows(f"{out}/{table}.jsonl") for table in tables)
    assert {
        "users": {r["AdditionalFields"]["ZoomUserId"]: r["AccountUpn"] for r in identity},
        "activities": Counter(
            (r["TargetUsername"], r["AdditionalFields"]["ZoomRecord"]["ip_address"])
            for r in sign_ins
        ),
        "operators": Counter(r["ActorUsername"] for r in audit),
    } == expected(zoom, salt)
    assert {r["EmailAddress"] for r in identity} == {r["AccountUpn"] for r in identity}
    assert all(r["SrcIpAddr"] is None for r in sign_ins), "a hash is not an address"
    assert not [r for r in audit if r["AdditionalFields"].get("OperationDetail")]
    # Nothing in clear text: no address or IP of the account in any file target-defender wrote
    # (tables, dead letters, its email -> display name map).
    written = "".join(p.read_text() for p in sorted(out.rglob("*")) if p.is_file())
    clear = {u["email"] for u in zoom.ground_truth("users")} | {
        a["ip_address"] for a in zoom.ground_truth("activities") if a.get("ip_address")
    }
    assert not [value for value in clear if value in written]
