"""ARM templates: tables, DCRs, workspace functions and conditions deployed; the rest refused."""

from __future__ import annotations

import json

import pytest

from tap_zoom_defender.azure_monitor_sandbox import AzureMonitorSandbox, DcrError, TemplateError
from tap_zoom_defender.azure_monitor_sandbox.dcr import default_immutable_id

from .asim_template import AUDIT_STREAM, AUTH_STREAM, FUNCTIONS, NATIVE_STREAM, template

PARAMS = {"workspaceName": "ws"}


def _load(document=None, **params) -> AzureMonitorSandbox:
    return AzureMonitorSandbox(  # not started: loading is what is tested
        templates=[template() if document is None else document],
        template_parameters={**PARAMS, **params},
    )


def test_template_deploys_tables_dcr_and_functions():
    az = _load()
    auth = az.schemas["ZoomAuthentication_CL"]
    assert auth.custom and auth.columns["EventStartTime"] == "datetime"
    assert auth.columns["EventCount"] == "int" and "TenantId" in auth.columns  # system column
    ((immutable_id, rule),) = az.dcrs.items()
    # The DCR's name is an expression (not evaluated): its id derives from the label.
    assert immutable_id == default_immutable_id("template:[parameters('dataCollectionRuleName')]")
    routes = {stream: [f.table for f in rule.flows_for(stream)] for stream in rule.streams}
    assert routes == {
        AUTH_STREAM: ["ZoomAuthentication_CL"],
        AUDIT_STREAM: ["ZoomAuditEvent_CL"],
        NATIVE_STREAM: ["ASimAuthenticationEventLogs"],
    }
    assert [f["alias"] for f in az.functions()] == FUNCTIONS
    (custom,) = [f for f in az.functions() if f["alias"] == "Im_AuthenticationCustom"]
    assert [p["name"] for p in custom["parameters"]] == [
        "starttime", "endtime", "username_has_any", "targetappname_has_any",
        "srcipaddr_has_any_prefix", "srchostname_has_any", "eventtype_in",
        "eventresultdetails_in", "eventresult", "disabled", "pack",
    ]  # fmt: skip
    assert custom["parameters"][0] == {"name": "starttime", "type": "datetime", "default": None}
    assert custom["parameters"][2]["default"] == [] and custom["parameters"][8]["default"] == "*"
    (plain,) = [f for f in az.functions() if f["alias"] == "ASim_AuthenticationCustom"]
    assert plain["parameters"][0] == {"name": "disabled", "type": "bool", "default": False}
    (summary,) = az.deployments
    # principalId defaults to "": the role assignment's condition is false.
    assert [s["type"] for s in summary["skipped"]] == ["Microsoft.Authorization/roleAssignments"]
    assert summary["ignored"] == []


def test_conditions_take_passed_values_read_as_the_declared_type():
    az = _load(deployParsers="false", principalId="0000-principal")
    assert az.functions() == []
    (summary,) = az.deployments
    assert len(summary["skipped"]) == len(FUNCTIONS)
    # The role assignment is deployed, i.e. ignored: the emulator's app already has the role.
    assert [i["type"] for i in summary["ignored"]] == ["Microsoft.Authorization/roleAssignments"]
    assert "Monitoring Metrics Publisher" in summary["ignored"][0]["why"]
    assert _load(deployParsers=True).functions() != []


def test_first_dcr_takes_the_configured_immutable_id():
    az = AzureMonitorSandbox(
        templates=[json.dumps(template())],  # JSON text works too
        template_parameters=PARAMS,
        dcr_immutable_id="dcr-00000000000000000000000000000013",
    )
    assert list(az.dcrs) == ["dcr-00000000000000000000000000000013"]


def _resource(document: dict, name: str) -> dict:
    """The function (by alias) or table (by name) resource of ``document``."""
    for resource in document["resources"]:
        props = resource.get("properties", {})
        if name in (props.get("FunctionAlias"), props.get("schema", {}).get("name")):
            return resource
    raise KeyError(name)


def _set(name: str, **values):
    return lambda d: _resource(d, name).update(values)


def _set_props(name: str, **values):
    return lambda d: _resource(d, name)["properties"].update(values)


def _twice(d: dict) -> None:
    _resource(d, "vimAuthenticationZoom")["properties"]["FunctionAlias"] = "ASimEmptyView"


REFUSALS = [
    (_set("ASimEmptyView", condition="[equals(1, 1)]"), {},
     "condition '[equals(1, 1)]' is not evaluated by this emulator"),
    (lambda d: d["resources"].append({"type": "Microsoft.Web/sites", "name": "app"}), {},
     "resource 'app' (Microsoft.Web/sites): this resource type is not deployed"),
    (_set_props("ASimEmptyView", query="[variables('q')]"), {},
     "query is the template expression \"[variables('q')]\""),
    (_set("ZoomAuthentication_CL", resources=[]), {},
     "'resources' is not deployed by this emulator"),
    (None, {"noSuchParameter": "1"},
     "template parameters noSuchParameter are declared by no template"),
    (None, {"deployParsers": "yes"}, "parameter 'deployParsers' is bool"),
    (_set("ASimEmptyView", condition="[parameters('location')]"), {},
     "the default of parameter 'location' is the expression"),
    (_set("ASimEmptyView", condition="[parameters('nope')]"), {},
     "the template declares no parameter 'nope'"),
    (_set("ASimEmptyView", condition="[parameters('workspaceName')]"), {},
     "parameter value 'ws' is not bool"),
    (_twice, {}, "function ASimEmptyView is also defined by"),
    (_set_props("ASimEmptyView", FunctionAlias="_Im_Authentication"), {},
     "the name of a Sentinel built-in parser"),
    (_set_props("ASimEmptyView", functionParameters="T:(*)"), {},
     "tabular parameter T is not supported"),
    (lambda d: d.update(resources={"r": {}}), {}, "'resources' must be a list"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "params", "message"), REFUSALS)
def test_unusable_templates_are_refused_naming_resource_and_reason(change, params, message):
    with pytest.raises(TemplateError) as caught:
        document = template()
        if change is not None:
            change(document)
        _load(document, **params)
    assert message in str(caught.value)


def test_a_template_dcr_is_checked_like_a_dcr_file():
    document = template()
    document["resources"][2]["properties"]["dataFlows"][0]["outputStream"] = "Custom-Missing_CL"
    with pytest.raises(DcrError, match=r"Custom-Missing_CL.*InvalidOutputTable"):
        _load(document)


def test_template_file_and_the_cli_options(tmp_path):
    from tap_zoom_defender.azure_monitor_sandbox.cli import build_parser, config_from_args

    path = tmp_path / "zoom.json"
    path.write_text(json.dumps(template()))
    args = build_parser().parse_args(
        ["--template", str(path), "--template-parameter", "workspaceName=ws",
         "--template-parameter", "deployParsers=false"]
    )  # fmt: skip
    cfg = config_from_args(args)
    assert cfg.template_parameters == {"workspaceName": "ws", "deployParsers": "false"}
    az = AzureMonitorSandbox(cfg)
    assert az.functions() == [] and "ZoomAuditEvent_CL" in az.workspace.tables
    assert az.deployments[0]["template"] == str(path)


def test_default_setup_is_the_generated_asim_template():
    """No set-up named: the project's generated ARM template, its parsers all resolving."""
    az = AzureMonitorSandbox()  # runs azure_setup template --profile asim in a subprocess
    (summary,) = az.deployments
    assert summary["template"] == "azure_setup template --profile asim"
    assert {"ZoomAuthentication_CL", "ZoomAuditEvent_CL"} <= set(summary["tables"])
    aliases = {f["alias"] for f in az.functions()}
    assert {"vimAuthenticationZoom", "ASimAuthenticationZoom", "vimAuditEventZoom",
            "ASimAuditEventZoom"} <= aliases  # fmt: skip
    for view in ("_Im_Authentication", "_ASim_Authentication", "_Im_AuditEvent",
                 "_ASim_AuditEvent"):  # fmt: skip
        result = az.query_result(view)
        assert result.rows == [] and result.warnings == [], (view, result.warnings)
