r"""Print the Azure set-up that matches the mapping, generated from the target's own tables.

Generated from the same ``Table`` definitions the target writes with, so the DCR's stream
declarations and the tables can never drift from the rows we send. The one artefact to deploy
is the ARM template (tables, DCR, its role, the ASIM parsers; see ``arm_template.py``)::

    python -m tap_zoom_defender.defender.azure_setup template > zoom-sentinel.json
    az deployment group create --resource-group RG --template-file zoom-sentinel.json \
        --parameters workspaceName=WS ingestionPrincipalId=OBJECT_ID

The pieces alone (``az`` table commands, DCR JSON for ``az monitor data-collection rule
create``) are there for workspaces managed by other means::

    python -m tap_zoom_defender.defender.azure_setup tables --resource-group RG --workspace WS
    python -m tap_zoom_defender.defender.azure_setup dcr \
        --workspace-resource-id /subscriptions/.../workspaces/WS --location westeurope
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Any

from tap_zoom_defender.defender.arm_template import deployment_template
from tap_zoom_defender.defender.mapping import PASSTHROUGH, PROFILES, Table

# Our column types -> DCR streamDeclarations types / Log Analytics table column types.
DCR_TYPES = {"string": "string", "int": "int", "bool": "boolean", "datetime": "datetime",
             "dynamic": "dynamic"}  # fmt: skip
TABLE_TYPES = DCR_TYPES  # `az ... table create --columns Name=type` uses the same names


def profile_tables(profile: str, *, passthrough: bool = True) -> list[Table]:
    """Distinct tables a profile writes (plus the passthrough table), in a stable order."""
    tables: dict[str, Table] = {}
    for table in PROFILES[profile].values():
        tables.setdefault(table.name, table)
    if passthrough:
        tables[PASSTHROUGH.name] = PASSTHROUGH
    return sorted(tables.values(), key=lambda t: t.name)


def table_commands(profile: str, resource_group: str, workspace: str) -> list[str]:
    """``az`` commands creating the custom (``_CL``) tables; ASim tables already exist."""
    commands = []
    for table in profile_tables(profile):
        if not table.custom:
            continue
        columns = " ".join(f"{c.name}={TABLE_TYPES[c.type]}" for c in table.columns)
        commands.append(
            "az monitor log-analytics workspace table create "
            f"--resource-group {shlex.quote(resource_group)} "
            f"--workspace-name {shlex.quote(workspace)} --name {table.name} "
            f"--plan Analytics --columns {columns}"
        )
    return commands


def dcr_template(profile: str, workspace_resource_id: str, location: str) -> dict[str, Any]:
    """Build a ``kind: Direct`` DCR (it has its own logs ingestion endpoint, no DCE needed).

    Every input stream declares exactly the columns the target sends for its table, and those
    are columns the output table stores (the ASim tables included: rows carry no ASIM alias or
    constant such as ``Dvc``/``EventSchema``, which Sentinel's parsers add at query time), so
    each data flow passes its rows through unchanged (``transformKql: source``).
    """
    tables = profile_tables(profile)
    return {
        "location": location,
        "kind": "Direct",
        "properties": {
            "streamDeclarations": {
                t.default_stream: {
                    "columns": [{"name": c.name, "type": DCR_TYPES[c.type]} for c in t.columns]
                }
                for t in tables
            },
            "destinations": {
                "logAnalytics": [{"workspaceResourceId": workspace_resource_id, "name": "ws"}]
            },
            "dataFlows": [
                {
                    "streams": [t.default_stream],
                    "destinations": ["ws"],
                    "transformKql": "source",
                    "outputStream": t.output_stream,
                }
                for t in tables
            ],
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    tables = sub.add_parser("tables", help="az commands that create the custom tables")
    tables.add_argument("--resource-group", required=True)
    tables.add_argument("--workspace", required=True, help="Log Analytics workspace name")
    dcr = sub.add_parser("dcr", help="DCR JSON (az monitor data-collection rule create)")
    dcr.add_argument("--workspace-resource-id", required=True)
    dcr.add_argument("--location", required=True)
    template = sub.add_parser(
        "template",
        help="ARM template: tables, DCR, role and ASIM parsers (az deployment group create)",
    )
    template.add_argument(
        "--workspace", help="default for the template's workspaceName parameter (optional)"
    )
    for p in (tables, dcr, template):
        p.add_argument("--profile", choices=sorted(PROFILES), default="asim")
    args = parser.parse_args(argv)
    if args.what == "tables":
        print("\n".join(table_commands(args.profile, args.resource_group, args.workspace)))
    elif args.what == "template":
        dcr_doc = dcr_template(
            args.profile, "[variables('workspaceResourceId')]", "[parameters('location')]"
        )
        document = deployment_template(
            profile_tables(args.profile),
            dcr_doc,
            with_parsers=args.profile == "asim",
            workspace=args.workspace,
        )
        json.dump(document, sys.stdout, indent=2)
        print()
    else:
        template = dcr_template(args.profile, args.workspace_resource_id, args.location)
        json.dump(template, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
