"""The ``azure-monitor-sandbox`` console script, started as scripts and the demo start it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from azure.identity import ClientSecretCredential
from azure.monitor.ingestion import LogsIngestionClient

from tap_zoom_defender.azure_monitor_sandbox.cli import main

from .conftest import TEST_STREAM, TEST_TABLE

SCRIPT = Path(sys.executable).with_name("azure-monitor-sandbox")
URL_FILE_KEYS = {
    "endpoint", "authority", "token_url", "openid_configuration_url", "tenant_id", "client_id",
    "client_secret", "scope", "disable_instance_discovery", "ca_cert", "dcr_immutable_id",
    "dcrs", "query_url", "kql_url", "functions", "templates", "control_url", "api_version",
    "env", "target_settings", "pid",
}  # fmt: skip


def _command() -> list[str]:
    if SCRIPT.exists():
        return [str(SCRIPT)]
    # Not installed as a console script (an old editable install): the same entry point.
    return [sys.executable, "-m", "tap_zoom_defender.azure_monitor_sandbox"]


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return json.loads(path.read_text())
        if proc.poll() is not None:
            pytest.fail(f"exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.05)
    pytest.fail("no url-file")


def test_console_script_serves_with_port_0_and_url_file(setup_files, tmp_path):
    dcr, tables = setup_files
    url_file = tmp_path / "azure.json"
    proc = subprocess.Popen(
        [*_command(), "--port", "0", "--url-file", str(url_file), "--dcr", f"{dcr}=dcr-cli",
         "--tables", str(tables), "--ca-dir", str(tmp_path / "ca")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        info = _wait_for(url_file, proc)
        assert set(info) == URL_FILE_KEYS
        assert info["dcr_immutable_id"] == "dcr-cli" and Path(info["ca_cert"]).is_file()
        assert info["token_url"] == f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token"
        credential = ClientSecretCredential(
            info["tenant_id"], info["client_id"], info["client_secret"],
            authority=info["authority"], disable_instance_discovery=True,
            connection_verify=info["ca_cert"],
        )  # fmt: skip
        client = LogsIngestionClient(info["endpoint"], credential,
                                     connection_verify=info["ca_cert"])  # fmt: skip
        client.upload(rule_id=info["dcr_immutable_id"], stream_name=TEST_STREAM,
                      logs=[{"Message": "from a subprocess"}])  # fmt: skip
        stored = requests.get(f"{info['query_url']}/{TEST_TABLE}", verify=info["ca_cert"],
                              timeout=10).json()  # fmt: skip
        assert [r["Message"] for r in stored["rows"]] == ["from a subprocess"]
        assert stored["counts"]["time_generated_missing"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "azure-monitor-sandbox stopped." in out and "dcr-cli" in out
    assert (tmp_path / "ca" / "ca.pem").is_file()  # --ca-dir: kept after the stop


def test_help_and_a_refused_dcr(tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0 and "--url-file" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"properties": {"streamDeclarations": {}}}))
    assert main(["--port", "0", "--dcr", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.json" in err[0] and "streamDeclarations" in err[0]


def test_console_script_deploys_a_template_and_answers_kql(tmp_path):
    from .asim_template import AUTH_STREAM, template

    path = tmp_path / "zoom.json"
    path.write_text(json.dumps(template()))
    url_file = tmp_path / "azure.json"
    proc = subprocess.Popen(
        [*_command(), "--port", "0", "--url-file", str(url_file), "--template", str(path),
         "--template-parameter", "workspaceName=ws", "--template-parameter",
         "principalId=0000-principal"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        info = _wait_for(url_file, proc)
        assert info["functions"][:2] == ["ASimEmptyView", "vimAuthenticationZoom"]
        assert (
            info["templates"][0]["ignored"][0]["type"] == "Microsoft.Authorization/roleAssignments"
        )
        credential = ClientSecretCredential(
            info["tenant_id"], info["client_id"], info["client_secret"],
            authority=info["authority"], disable_instance_discovery=True,
            connection_verify=info["ca_cert"],
        )  # fmt: skip
        client = LogsIngestionClient(info["endpoint"], credential,
                                     connection_verify=info["ca_cert"])  # fmt: skip
        row = {"EventOriginalUid": "cli-1", "EventStartTime": "2020-01-02T03:04:05Z"}
        client.upload(rule_id=info["dcr_immutable_id"], stream_name=AUTH_STREAM, logs=[row])
        answer = requests.post(info["kql_url"], json={"query": "_Im_Authentication"},
                               verify=info["ca_cert"], timeout=10).json()  # fmt: skip
        assert [(r["EventOriginalUid"], r["TimeGenerated"]) for r in answer["rows"]] == [
            ("cli-1", "2020-01-02T03:04:05Z")]  # fmt: skip
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "Workspace functions: ASimEmptyView, vimAuthenticationZoom" in out
