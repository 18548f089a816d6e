"""A hand-written ARM template of the issue-13 shape: Zoom tables, a DCR, ASIM parsers.

The tests' own set-up (independent of what azure_setup generates): custom tables with real
event-time columns (EventStartTime/EventEndTime), a DCR writing them (and one native-table
flow), the Zoom ASIM parsers that give each row its event time back, and the custom unifying
parsers Sentinel's built-in ``_Im_*``/``_ASim_*`` parsers pick up. Written as in the Azure-Sentinel
templates (``FunctionAlias``, ``disabled:bool=False``), with conditions and a role assignment.
"""

from __future__ import annotations

import copy
from typing import Any

AUTH_STREAM = "Custom-ZoomAuthentication"
AUDIT_STREAM = "Custom-ZoomAuditEvent"
NATIVE_STREAM = "Custom-NativeAuthentication"

AUTH_COLUMNS = {
    "TimeGenerated": "datetime", "EventStartTime": "datetime", "EventEndTime": "datetime",
    "EventOriginalUid": "string", "EventType": "string", "EventResult": "string",
    "EventResultDetails": "string", "TargetUsername": "string", "SrcIpAddr": "string",
    "EventVendor": "string", "EventProduct": "string", "EventCount": "int",
}  # fmt: skip
AUDIT_COLUMNS = {
    "TimeGenerated": "datetime", "EventStartTime": "datetime", "EventEndTime": "datetime",
    "EventOriginalUid": "string", "EventType": "string", "EventResult": "string",
    "Operation": "string", "Object": "string", "OldValue": "string", "NewValue": "string",
    "ActorUsername": "string", "SrcIpAddr": "string", "EventVendor": "string",
    "EventProduct": "string",
}  # fmt: skip
NATIVE_COLUMNS = {
    "TimeGenerated": "datetime", "EventStartTime": "datetime", "EventOriginalUid": "string",
    "EventType": "string", "EventResult": "string", "TargetUsername": "string",
    "SrcIpAddr": "string", "EventVendor": "string", "EventProduct": "string",
}  # fmt: skip

AUTH_PARAMS = (
    "starttime:datetime=datetime(null),endtime:datetime=datetime(null),"
    "username_has_any:dynamic=dynamic([]),targetappname_has_any:dynamic=dynamic([]),"
    "srcipaddr_has_any_prefix:dynamic=dynamic([]),srchostname_has_any:dynamic=dynamic([]),"
    "eventtype_in:dynamic=dynamic([]),eventresultdetails_in:dynamic=dynamic([]),"
    "eventresult:string='*',disabled:bool=False,pack:bool=false"
)
# Im_AuthenticationCustom.json (Azure-Sentinel ASIM/deploy/EmptyCustomUnifyingParsers), as is.
IM_AUTH_CUSTOM_PARAMS = (
    "starttime: datetime=datetime(null),endtime: datetime=datetime(null),username_has_any: "
    "dynamic = dynamic([]),targetappname_has_any: dynamic = dynamic([]),"
    "srcipaddr_has_any_prefix: dynamic = dynamic([]),srchostname_has_any: dynamic = "
    "dynamic([]),eventtype_in: dynamic = dynamic([]),eventresultdetails_in: dynamic = "
    "dynamic([]),eventresult: string = '*',disabled: bool=false,pack:bool=false"
)
AUTH_ARGS = (
    "starttime=starttime, endtime=endtime, username_has_any=username_has_any, "
    "targetappname_has_any=targetappname_has_any, "
    "srcipaddr_has_any_prefix=srcipaddr_has_any_prefix, srchostname_has_any=srchostname_has_any, "
    "eventtype_in=eventtype_in, eventresultdetails_in=eventresultdetails_in, "
    "eventresult=eventresult"
)
AUDIT_PARAMS = (
    "starttime:datetime=datetime(null),endtime:datetime=datetime(null),"
    "srcipaddr_has_any_prefix:dynamic=dynamic([]),actorusername_has_any:dynamic=dynamic([]),"
    "operation_has_any:dynamic=dynamic([]),eventtype_in:dynamic=dynamic([]),"
    "eventresult:string='*',object_has_any:dynamic=dynamic([]),"
    "newvalue_has_any:dynamic=dynamic([]),disabled:bool=False,pack:bool=false"
)
AUDIT_ARGS = (
    "starttime=starttime, endtime=endtime, srcipaddr_has_any_prefix=srcipaddr_has_any_prefix, "
    "actorusername_has_any=actorusername_has_any, operation_has_any=operation_has_any, "
    "eventtype_in=eventtype_in, eventresult=eventresult, object_has_any=object_has_any, "
    "newvalue_has_any=newvalue_has_any"
)

VIM_AUTHENTICATION_ZOOM = f"""
// Zoom sign-ins: filter and report on the event time, not on the receipt time.
let parser = ({AUTH_PARAMS.replace(",pack:bool=false", "")}) {{
  ZoomAuthentication_CL
  | where not(disabled)
  | extend EventTime = coalesce(EventStartTime, TimeGenerated)
  | where (isnull(starttime) or EventTime >= starttime)
      and (isnull(endtime) or EventTime <= endtime)
      and (array_length(username_has_any) == 0 or TargetUsername has_any (username_has_any))
      and array_length(targetappname_has_any) == 0
      and (array_length(srcipaddr_has_any_prefix) == 0
           or has_any_ipv4_prefix(SrcIpAddr, srcipaddr_has_any_prefix))
      and array_length(srchostname_has_any) == 0
      and (array_length(eventtype_in) == 0 or EventType in~ (eventtype_in))
      and (array_length(eventresultdetails_in) == 0
           or EventResultDetails in~ (eventresultdetails_in))
      and (eventresult == '*' or EventResult == eventresult)
  | extend TimeGenerated = EventTime, EventStartTime = EventTime,
      EventEndTime = coalesce(EventEndTime, EventTime), EventSchema = 'Authentication',
      User = TargetUsername, IpAddr = SrcIpAddr, Dvc = EventVendor, EventUid = _ItemId
  | project-away EventTime, TenantId, _ResourceId, _SubscriptionId
}};
parser({AUTH_ARGS}, disabled=disabled)
"""
VIM_AUDIT_EVENT_ZOOM = f"""
let parser = ({AUDIT_PARAMS.replace(",pack:bool=false", "")}) {{
  ZoomAuditEvent_CL
  | where not(disabled)
  | extend EventTime = coalesce(EventStartTime, TimeGenerated)
  | where (isnull(starttime) or EventTime >= starttime)
      and (isnull(endtime) or EventTime <= endtime)
      and (array_length(srcipaddr_has_any_prefix) == 0
           or has_any_ipv4_prefix(SrcIpAddr, srcipaddr_has_any_prefix))
      and (array_length(actorusername_has_any) == 0 or ActorUsername has_any (actorusername_has_any))
      and (array_length(operation_has_any) == 0 or Operation has_any (operation_has_any))
      and (array_length(eventtype_in) == 0 or EventType in~ (eventtype_in))
      and (eventresult == '*' or EventResult == eventresult)
      and (array_length(object_has_any) == 0 or Object has_any (object_has_any))
      and (array_length(newvalue_has_any) == 0 or NewValue has_any (newvalue_has_any))
  | extend TimeGenerated = EventTime, EventStartTime = EventTime,
      EventEndTime = coalesce(EventEndTime, EventTime), EventSchema = 'AuditEvent',
      User = ActorUsername, IpAddr = SrcIpAddr, Value = NewValue
  | project-away EventTime
}};
parser({AUDIT_ARGS}, disabled=disabled)
"""  # noqa: E501


def _columns(columns: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "type": kind} for name, kind in columns.items()]


def _table(name: str, columns: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "Microsoft.OperationalInsights/workspaces/tables",
        "apiVersion": "2022-10-01",
        "name": f"[concat(parameters('workspaceName'), '/{name}')]",
        "properties": {"plan": "Analytics", "schema": {"name": name, "columns": _columns(columns)}},
    }


def _function(alias: str, parameters: str, query: str, condition: str) -> dict[str, Any]:
    return {
        "type": "Microsoft.OperationalInsights/workspaces/savedSearches",
        "apiVersion": "2020-08-01",
        "name": f"[concat(parameters('workspaceName'), '/{alias}')]",
        "condition": condition,
        "properties": {
            "etag": "*",
            "displayName": alias,
            "category": "ASIM",
            "FunctionAlias": alias,
            "query": query,
            "functionParameters": parameters,
            "version": 1,
        },
    }


def _flow(stream: str, output: str) -> dict[str, Any]:
    return {"streams": [stream], "destinations": ["ws"], "transformKql": "source",
            "outputStream": output}  # fmt: skip


DCR = {
    "type": "Microsoft.Insights/dataCollectionRules",
    "apiVersion": "2023-03-11",
    "name": "[parameters('dataCollectionRuleName')]",
    "location": "[parameters('location')]",
    "kind": "Direct",
    "dependsOn": ["ZoomAuthentication_CL", "ZoomAuditEvent_CL"],
    "properties": {
        "streamDeclarations": {
            AUTH_STREAM: {"columns": _columns(AUTH_COLUMNS)},
            AUDIT_STREAM: {"columns": _columns(AUDIT_COLUMNS)},
            NATIVE_STREAM: {"columns": _columns(NATIVE_COLUMNS)},
        },
        "destinations": {
            "logAnalytics": [
                {
                    "workspaceResourceId": "[resourceId('Microsoft.OperationalInsights/"
                    "workspaces', parameters('workspaceName'))]",
                    "name": "ws",
                }
            ]
        },
        "dataFlows": [
            _flow(AUTH_STREAM, "Custom-ZoomAuthentication_CL"),
            _flow(AUDIT_STREAM, "Custom-ZoomAuditEvent_CL"),
            _flow(NATIVE_STREAM, "Microsoft-ASimAuthenticationEventLogs"),
        ],
    },
}

PARSERS = "[parameters('deployParsers')]"
TEMPLATE: dict[str, Any] = {
    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "parameters": {
        "workspaceName": {"type": "string"},
        "location": {"type": "string", "defaultValue": "[resourceGroup().location]"},
        "dataCollectionRuleName": {"type": "string", "defaultValue": "dcr-zoom"},
        "principalId": {"type": "string", "defaultValue": ""},
        "deployParsers": {"type": "bool", "defaultValue": True},
    },
    "resources": [
        _table("ZoomAuthentication_CL", AUTH_COLUMNS),
        _table("ZoomAuditEvent_CL", AUDIT_COLUMNS),
        DCR,
        _function("ASimEmptyView", "", "datatable (EventType:string) []", PARSERS),
        _function("vimAuthenticationZoom", AUTH_PARAMS, VIM_AUTHENTICATION_ZOOM, PARSERS),
        _function(
            "ASimAuthenticationZoom",
            "disabled:bool=False,pack:bool=false",
            "vimAuthenticationZoom(disabled=disabled)",
            PARSERS,
        ),
        _function("vimAuditEventZoom", AUDIT_PARAMS, VIM_AUDIT_EVENT_ZOOM, PARSERS),
        _function(
            "ASimAuditEventZoom",
            "disabled:bool=False,pack:bool=false",
            "vimAuditEventZoom(disabled=disabled)",
            PARSERS,
        ),
        _function(
            "Im_AuthenticationCustom",
            IM_AUTH_CUSTOM_PARAMS,
            "union isfuzzy=true\n  ASimEmptyView,\n"
            f"  vimAuthenticationZoom({AUTH_ARGS}, disabled=false, pack=pack)\n",
            PARSERS,
        ),
        _function(
            "ASim_AuthenticationCustom",
            "disabled:bool=False,pack:bool=false",
            "union isfuzzy=true ASimEmptyView, ASimAuthenticationZoom(disabled=false, pack=pack)",
            PARSERS,
        ),
        _function(
            "Im_AuditEventCustom",
            AUDIT_PARAMS,
            "union isfuzzy=true\n  ASimEmptyView,\n"
            f"  vimAuditEventZoom({AUDIT_ARGS}, disabled=false, pack=pack)\n",
            PARSERS,
        ),
        _function(
            "ASim_AuditEventCustom",
            "disabled:bool=False,pack:bool=false",
            "union isfuzzy=true ASimEmptyView, ASimAuditEventZoom(disabled=false, pack=pack)",
            PARSERS,
        ),
        {
            "type": "Microsoft.Authorization/roleAssignments",
            "apiVersion": "2022-04-01",
            "condition": "[not(empty(parameters('principalId')))]",
            "scope": "[format('Microsoft.Insights/dataCollectionRules/{0}', "
            "parameters('dataCollectionRuleName'))]",
            "name": "[guid(parameters('principalId'), '3913510d-42f4-4e42-8a64-420c390055eb')]",
            "properties": {
                "roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/"
                "roleDefinitions', '3913510d-42f4-4e42-8a64-420c390055eb')]",
                "principalId": "[parameters('principalId')]",
                "principalType": "ServicePrincipal",
            },
        },
    ],
}

FUNCTIONS = [
    "ASimEmptyView", "vimAuthenticationZoom", "ASimAuthenticationZoom", "vimAuditEventZoom",
    "ASimAuditEventZoom", "Im_AuthenticationCustom", "ASim_AuthenticationCustom",
    "Im_AuditEventCustom", "ASim_AuditEventCustom",
]  # fmt: skip


def template() -> dict[str, Any]:
    """A fresh copy of the fixture template (tests change it to provoke refusals)."""
    return copy.deepcopy(TEMPLATE)
