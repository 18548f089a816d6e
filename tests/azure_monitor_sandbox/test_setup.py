"""Loading a workspace set-up: table schemas, DCRs, and transformations refused at load."""

from __future__ import annotations

import pytest

from tap_zoom_defender.azure_monitor_sandbox import AzureMonitorSandbox, DcrError
from tap_zoom_defender.azure_monitor_sandbox.tables import (
    TableDefinitionError,
    load_native_tables,
    parse_table_definitions,
)
from tap_zoom_defender.azure_monitor_sandbox.transform import parse_transform
from tap_zoom_defender.azure_monitor_sandbox.values import coerce

from .conftest import TABLES, make_dcr


def _load(dcr: dict, tables: str = TABLES) -> AzureMonitorSandbox:
    return AzureMonitorSandbox(dcrs=[dcr], table_definitions=[tables])  # not started


@pytest.mark.parametrize(
    ("kql", "says"),
    [
        ("source | where EventCount > 1", "operator 'where' is not evaluated"),
        ("source | extend EventProduct = tostring(Dvc)", "only 'Column = OtherColumn'"),
        ("source | project TimeGenerated", "operator 'project' is not evaluated"),
        ("source | project-away Event*", "wildcards and expressions are not evaluated"),
        ("source | project-away NoSuchColumn", "'NoSuchColumn' does not exist"),
        ("source | extend A = NoSuchColumn", "'NoSuchColumn' does not exist"),
        ("Source", "must start with the input table 'source'"),
    ],
)
def test_unsupported_transform_is_refused_at_load_with_a_clear_message(kql, says):
    with pytest.raises(DcrError) as caught:
        _load(make_dcr(auth_transform=kql))
    message = str(caught.value)
    assert "dataFlows[1]" in message and repr(kql) in message and says in message, message


def test_supported_transforms_evaluate():
    transform = parse_transform(
        "source // comment\n| project-away A, ['B'] | extend C = D, E = 'x\\'y', F = 3, "
        "G = 2.5, H = true | extend I = C"
    )
    out = transform.apply({"A": 1, "B": 2, "D": "d"})
    assert out == {"D": "d", "C": "d", "E": "x'y", "F": 3, "G": 2.5, "H": True, "I": "d"}
    assert transform.output_columns({"A": "int", "B": "int", "D": "string"}) == {
        "D": "string", "C": "string", "E": "string", "F": "long", "G": "real", "H": "bool",
        "I": "string",
    }  # fmt: skip
    assert parse_transform(None).apply({"A": 1}) == {"A": 1}


def test_dcr_errors_name_the_problem():
    dcr = make_dcr()
    dcr["properties"]["dataFlows"][0]["outputStream"] = "Custom-Missing_CL"
    with pytest.raises(DcrError, match=r"Custom-Missing_CL.*InvalidOutputTable"):
        _load(dcr)
    dcr = make_dcr()
    dcr["properties"]["streamDeclarations"]["Custom-SandboxTest"]["columns"][1]["type"] = "text"
    with pytest.raises(DcrError, match="one of the types string, int, long"):
        _load(dcr)
    dcr = make_dcr()
    dcr["properties"]["dataFlows"][0]["streams"] = ["Custom-Undeclared"]
    with pytest.raises(DcrError, match="'Custom-Undeclared' is not in streamDeclarations"):
        _load(dcr)


def test_native_tables_come_from_microsofts_table_reference():
    tables = load_native_tables()
    auth, audit = tables["ASimAuthenticationEventLogs"], tables["ASimAuditEventLogs"]
    assert len(auth.columns) == 141 and len(audit.columns) == 128
    assert auth.columns["TimeGenerated"] == "datetime" and auth.columns["EventCount"] == "int"
    assert (
        auth.columns["AdditionalFields"] == "dynamic" and auth.columns["SrcGeoLatitude"] == "real"
    )
    for column in ("EventOriginalUid", "TargetUsername", "SrcIpAddr", "SrcDvcOs", "LogonMethod"):
        assert auth.columns[column] == "string"
    for column in ("Operation", "Object", "ObjectType", "OldValue", "NewValue", "ActorUsername"):
        assert audit.columns[column] == "string"
    # Aliases and constants are added by the ASIM parsers, not stored (microsoft-shapes.md).
    for column in ("Dvc", "EventSchema", "User", "IpAddr", "Application"):
        assert column not in auth.columns and column not in audit.columns
    assert not auth.writable("TenantId") and not auth.writable("Type")
    assert auth.writable("EventResult")


def test_custom_table_definitions():
    (table,) = parse_table_definitions(TABLES, "t")
    assert table.columns["Flag"] == "bool" and table.columns["TimeGenerated"] == "datetime"
    assert not table.writable("TenantId")
    json_def = '{"name": "J_CL", "columns": [{"name": "TimeGenerated", "type": "datetime"}]}'
    assert parse_table_definitions(json_def, "j")[0].name == "J_CL"
    with pytest.raises(TableDefinitionError, match="reserved column name"):
        parse_table_definitions(TABLES.replace("Source=string", "TenantId=string"), "t")
    with pytest.raises(TableDefinitionError, match="must end with _CL"):
        parse_table_definitions(TABLES.replace("SandboxTest_CL", "SandboxTest"), "t")


@pytest.mark.parametrize(
    ("value", "kind", "stored"),
    [
        ("2026-01-02 03:04:05", "datetime", "2026-01-02T03:04:05Z"),
        ("2026-01-02T03:04:05.1234567+01:00", "datetime", "2026-01-02T02:04:05.123456Z"),
        ("yesterday", "datetime", None),
        ("12", "int", 12),
        (2**40, "int", None),
        (2**40, "long", 2**40),
        ("TRUE", "bool", True),
        ({"a": 1}, "string", '{"a":1}'),
        ("not-a-guid", "guid", None),
    ],
)
def test_values_read_as_column_types(value, kind, stored):
    assert coerce(value, kind) == stored
