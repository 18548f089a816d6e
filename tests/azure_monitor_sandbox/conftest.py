"""A small workspace set-up of the tests' own (independent of the project's mapping)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from tap_zoom_defender.azure_monitor_sandbox import AzureMonitorSandbox
from tap_zoom_defender.azure_monitor_sandbox.pytest_plugin import (  # noqa: F401
    azure_monitor_sandbox,
    azure_monitor_sandbox_factory,
)

TEST_STREAM = "Custom-SandboxTest"
AUTH_STREAM = "Custom-SandboxAuth"
TEST_TABLE = "SandboxTest_CL"
AUTH_TABLE = "ASimAuthenticationEventLogs"

# As `azure_setup tables` prints them: az commands (dateTime / boolean spelled as az spells them).
TABLES = (
    "az monitor log-analytics workspace table create --resource-group rg --workspace-name ws "
    f"--name {TEST_TABLE} --plan Analytics --columns TimeGenerated=dateTime Message=string "
    "Count=int Ratio=real Flag=boolean Details=dynamic Source=string\n"
)


def _columns(**types: str) -> list[dict]:
    return [{"name": name, "type": kind} for name, kind in types.items()]


def make_dcr(auth_transform: str = "") -> dict:
    """A kind: Direct DCR with a custom-table flow and a native-table flow."""
    auth_transform = auth_transform or (
        "source | project-away Dvc "
        "| extend EventProduct = 'Zoom', EventVendor = \"Zoom\", TargetUserId = TargetUsername"
    )
    return {
        "location": "westeurope",
        "kind": "Direct",
        "properties": {
            "streamDeclarations": {
                TEST_STREAM: {
                    "columns": _columns(
                        TimeGenerated="datetime",
                        Message="string",
                        Count="int",
                        Ratio="real",
                        Flag="boolean",
                        Details="dynamic",
                        Extra="string",
                    )
                },
                AUTH_STREAM: {
                    "columns": _columns(
                        TimeGenerated="datetime",
                        EventOriginalUid="string",
                        TargetUsername="string",
                        Dvc="string",
                        EventSchema="string",
                        EventCount="int",
                    )
                },
            },
            "destinations": {"logAnalytics": [{"workspaceResourceId": "/x/ws", "name": "ws"}]},
            "dataFlows": [
                {
                    "streams": [TEST_STREAM],
                    "destinations": ["ws"],
                    "transformKql": "source | extend Source = 'sandbox-test'",
                    "outputStream": f"Custom-{TEST_TABLE}",
                },
                {
                    "streams": [AUTH_STREAM],
                    "destinations": ["ws"],
                    "transformKql": auth_transform,
                    "outputStream": f"Microsoft-{AUTH_TABLE}",
                },
            ],
        },
    }


@pytest.fixture
def setup_files(tmp_path: Path) -> tuple[Path, Path]:
    dcr = tmp_path / "dcr.json"
    dcr.write_text(json.dumps(make_dcr()))
    tables = tmp_path / "tables.txt"
    tables.write_text(TABLES)
    return dcr, tables


@pytest.fixture
def az(azure_monitor_sandbox_factory, setup_files) -> AzureMonitorSandbox:  # noqa: F811
    dcr, tables = setup_files
    return azure_monitor_sandbox_factory(dcrs=[dcr], table_definitions=[tables])


def query(az: AzureMonitorSandbox, table: str) -> dict:
    """What the query route answers for a table (over HTTPS, like a script would ask)."""
    answer = requests.get(f"{az.url}/_sandbox/tables/{table}", verify=az.ca_cert, timeout=10)
    answer.raise_for_status()
    return answer.json()
