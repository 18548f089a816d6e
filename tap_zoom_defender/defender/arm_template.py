r"""One ARM template for the whole Azure side: tables, the DCR, its role, the ASIM parsers.

``python -m tap_zoom_defender.defender.azure_setup template > zoom-sentinel.json`` then::

    az deployment group create --resource-group RG --template-file zoom-sentinel.json \\
        --parameters workspaceName=WS ingestionPrincipalId=OBJECT_ID

Resources (API versions as in Microsoft's template references and the Azure-Sentinel repo):

- ``Microsoft.OperationalInsights/workspaces/tables`` (2022-10-01): each custom table, with
  exactly the columns the target sends ("Logs Ingestion API" tutorial, ARM form);
- ``Microsoft.Insights/dataCollectionRules`` (2023-03-11), ``kind: Direct``: the DCR (its own
  logs ingestion endpoint, no DCE), from :func:`azure_setup.dcr_template`;
- ``Microsoft.Authorization/roleAssignments`` (2022-04-01): "Monitoring Metrics Publisher" on the
  DCR for the app's service principal, when ``ingestionPrincipalId`` is given;
- ``Microsoft.OperationalInsights/workspaces/savedSearches`` (2020-08-01): the ASIM parsers as
  workspace functions, in the form of the Azure-Sentinel repository's parser templates
  (``category: ASIM``, ``functionAlias``, ``functionParameters``); the four custom unifying
  parsers only with ``deployCustomUnifyingParsers`` (they replace a workspace's own).

The outputs are the two values target-defender needs: the DCR's immutable id and endpoint.
"""

from __future__ import annotations

from typing import Any

from tap_zoom_defender.defender.mapping import Table
from tap_zoom_defender.defender.sentinel import Parser, parsers

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
# ARM's column types for workspaces/tables (its enum spells dateTime and boolean so).
ARM_TABLE_TYPES = {"string": "string", "int": "int", "bool": "boolean", "datetime": "dateTime",
                   "dynamic": "dynamic"}  # fmt: skip
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
CUSTOM_UNIFYING = ("Im_AuthenticationCustom", "ASim_AuthenticationCustom",
                   "Im_AuditEventCustom", "ASim_AuditEventCustom")  # fmt: skip
_DCR_ID = (
    "[resourceId('Microsoft.Insights/dataCollectionRules', parameters('dataCollectionRuleName'))]"
)


def _table_id(name: str) -> str:
    return (
        "[resourceId('Microsoft.OperationalInsights/workspaces/tables', "
        f"parameters('workspaceName'), '{name}')]"
    )


def _function_id(name: str) -> str:
    return (
        "[resourceId('Microsoft.OperationalInsights/workspaces/savedSearches', "
        f"parameters('workspaceName'), '{name}')]"
    )


def table_resource(table: Table) -> dict[str, Any]:
    """Declare a custom table with exactly the columns the target sends."""
    return {
        "type": "Microsoft.OperationalInsights/workspaces/tables",
        "apiVersion": "2022-10-01",
        "name": f"[concat(parameters('workspaceName'), '/{table.name}')]",
        "properties": {
            "plan": "Analytics",
            "schema": {
                "name": table.name,
                "columns": [
                    {"name": c.name, "type": ARM_TABLE_TYPES[c.type]} for c in table.columns
                ],
            },
        },
    }


def function_resource(parser: Parser, depends_on: list[str]) -> dict[str, Any]:
    """Deploy a parser as a workspace function (a saved search with a function alias)."""
    resource: dict[str, Any] = {
        "type": "Microsoft.OperationalInsights/workspaces/savedSearches",
        "apiVersion": "2020-08-01",
        "name": f"[concat(parameters('workspaceName'), '/{parser.name}')]",
        "dependsOn": depends_on,
        "properties": {
            "etag": "*",
            "displayName": parser.title,
            "category": "ASIM",
            "functionAlias": parser.name,
            "functionParameters": parser.function_parameters,
            "query": parser.query,
            "version": 2,
        },
    }
    if parser.name in CUSTOM_UNIFYING:
        resource["condition"] = "[parameters('deployCustomUnifyingParsers')]"
    return resource


def role_resource() -> dict[str, Any]:
    """Grant Monitoring Metrics Publisher on the DCR to the ingesting app's principal."""
    return {
        "type": "Microsoft.Authorization/roleAssignments",
        "apiVersion": "2022-04-01",
        "condition": "[not(empty(parameters('ingestionPrincipalId')))]",
        "scope": "[format('Microsoft.Insights/dataCollectionRules/{0}', "
        "parameters('dataCollectionRuleName'))]",
        "name": f"[guid({_DCR_ID[1:-1]}, parameters('ingestionPrincipalId'), "
        f"'{MONITORING_METRICS_PUBLISHER}')]",
        "dependsOn": [_DCR_ID],
        "properties": {
            "roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/"
            f"roleDefinitions', '{MONITORING_METRICS_PUBLISHER}')]",
            "principalId": "[parameters('ingestionPrincipalId')]",
            "principalType": "ServicePrincipal",
        },
    }


def deployment_template(
    tables: list[Table], dcr: dict[str, Any], *, with_parsers: bool, workspace: str | None = None
) -> dict[str, Any]:
    """Build the whole template: tables, DCR (+ role), and for the ASIM profile the parsers."""
    workspace_param: dict[str, Any] = {
        "type": "string",
        "metadata": {"description": "Log Analytics workspace (Sentinel) name"},
    }
    if workspace:
        workspace_param["defaultValue"] = workspace
    custom = [t for t in tables if t.custom]
    dcr_resource = {
        "type": "Microsoft.Insights/dataCollectionRules",
        "apiVersion": "2023-03-11",
        "name": "[parameters('dataCollectionRuleName')]",
        "location": "[parameters('location')]",
        "kind": dcr["kind"],
        "dependsOn": [_table_id(t.name) for t in custom],
        "properties": dcr["properties"],
    }
    resources: list[dict[str, Any]] = [table_resource(t) for t in custom]
    resources += [dcr_resource, role_resource()]
    if with_parsers:
        resources += _parser_resources(custom)
    return {
        "$schema": SCHEMA,
        "contentVersion": "1.0.0.0",
        "parameters": {
            "workspaceName": workspace_param,
            "location": {"type": "string", "defaultValue": "[resourceGroup().location]"},
            "dataCollectionRuleName": {"type": "string", "defaultValue": "dcr-zoom-defender"},
            "ingestionPrincipalId": {
                "type": "string",
                "defaultValue": "",
                "metadata": {
                    "description": "Object id of the app registration's service principal that "
                    "target-defender signs in as (az ad sp show --id CLIENT_ID --query id); "
                    "empty: assign Monitoring Metrics Publisher on the DCR yourself"
                },
            },
            "deployCustomUnifyingParsers": {
                "type": "bool",
                "defaultValue": True,
                "metadata": {
                    "description": "Deploy Im_/ASim_AuthenticationCustom and "
                    "Im_/ASim_AuditEventCustom (replacing the workspace's own); false when you "
                    "keep your own and add the Zoom parsers to them (docs/sentinel.md)"
                },
            },
        },
        "variables": {
            "workspaceResourceId": "[resourceId('Microsoft.OperationalInsights/workspaces', "
            "parameters('workspaceName'))]"
        },
        "resources": resources,
        "outputs": {
            "dataCollectionRuleImmutableId": {
                "type": "string",
                "value": f"[reference({_DCR_ID[1:-1]}, '2023-03-11').immutableId]",
            },
            "logsIngestionEndpoint": {
                "type": "string",
                "value": f"[reference({_DCR_ID[1:-1]}, '2023-03-11').endpoints.logsIngestion]",
            },
        },
    }


def _parser_resources(custom: list[Table]) -> list[dict[str, Any]]:
    """Source parsers after their tables; unifying ones after the parsers they call."""
    shipped = parsers()
    source_names = [p.name for p in shipped if p.name not in CUSTOM_UNIFYING]
    resources = []
    for parser in shipped:
        if parser.name in CUSTOM_UNIFYING:
            depends = [_function_id(n) for n in source_names if n in parser.query]
        else:
            depends = [_table_id(t.name) for t in custom if t.name in parser.query]
        resources.append(function_resource(parser, depends))
    return resources
