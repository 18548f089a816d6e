"""Data collection rules: load the DCR JSON a workspace would be given, refuse what Azure would.

The JSON is what ``az monitor data-collection rule create --rule-file`` takes (the shape
``azure_setup dcr`` prints): ``properties.streamDeclarations``, ``properties.destinations``
and ``properties.dataFlows`` ("Structure of a data collection rule (DCR) in Azure Monitor").
An ARM resource (with ``properties.immutableId``) or a bare ``properties`` object work too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from .tables import TableSchema
from .transform import Transform, TransformError, parse_transform
from .values import STREAM_TYPES, normalize_type


class DcrError(ValueError):
    """A DCR the emulator refuses to load; the message names the file, the part and why."""


@dataclass(frozen=True)
class DataFlow:
    """One ``dataFlows`` entry for one input stream."""

    stream: str
    transform: Transform
    table: str
    columns: dict[str, str]  # transformation output: name -> type


@dataclass
class DataCollectionRule:
    """A loaded DCR: its input streams (declared columns) and where each one flows."""

    immutable_id: str
    label: str
    streams: dict[str, dict[str, str]]  # stream -> column -> Kusto type
    flows: list[DataFlow]

    def flows_for(self, stream: str) -> list[DataFlow]:
        """Return the data flows fed by ``stream`` (one per output table)."""
        return [flow for flow in self.flows if flow.stream == stream]

    def summary(self) -> dict[str, Any]:
        """JSON-friendly description: id, label, stream -> tables (with their transformations)."""
        return {
            "immutable_id": self.immutable_id,
            "label": self.label,
            "streams": {
                stream: [
                    {"table": f.table, "transformKql": f.transform.text}
                    for f in self.flows_for(stream)
                ]
                for stream in self.streams
            },
        }


def default_immutable_id(label: str) -> str:
    """Make a stable ``dcr-`` + 32 hex id for a DCR without one (Azure assigns it on create)."""
    return "dcr-" + hashlib.md5(label.encode(), usedforsecurity=False).hexdigest()


def load_dcr(
    document: Any,
    tables: dict[str, TableSchema],
    *,
    label: str,
    immutable_id: str | None = None,
) -> DataCollectionRule:
    """Validate ``document`` against ``tables`` and return the rule (DcrError if unusable)."""
    if not isinstance(document, dict):
        raise DcrError(f"DCR {label}: not a JSON object")
    props = document.get("properties", document)
    if not isinstance(props, dict):
        raise DcrError(f"DCR {label}: 'properties' is not an object")
    rule_id = immutable_id or props.get("immutableId") or document.get("immutableId")
    rule_id = rule_id or default_immutable_id(label)
    streams = _streams(props.get("streamDeclarations"), label)
    destinations = _destinations(props.get("destinations"), label)
    flows_json = props.get("dataFlows")
    if not isinstance(flows_json, list) or not flows_json:
        raise DcrError(f"DCR {label}: properties.dataFlows must be a non-empty list")
    flows = []
    for index, flow in enumerate(flows_json):
        flows.extend(_flow(flow, f"DCR {label}: dataFlows[{index}]", streams, destinations, tables))
    return DataCollectionRule(rule_id, label, streams, flows)


def _streams(declarations: Any, label: str) -> dict[str, dict[str, str]]:
    if not isinstance(declarations, dict) or not declarations:
        raise DcrError(f"DCR {label}: properties.streamDeclarations must declare input streams")
    streams = {}
    for name, body in declarations.items():
        where = f"DCR {label}: streamDeclarations.{name}"
        # "Structure of a DCR", Stream declarations: each stream name must begin with Custom-.
        if not name.startswith("Custom-"):
            raise DcrError(f"{where}: a declared stream's name must begin with 'Custom-'")
        columns = body.get("columns") if isinstance(body, dict) else None
        if not isinstance(columns, list) or not columns:
            raise DcrError(f"{where}: needs a non-empty 'columns' list")
        declared: dict[str, str] = {}
        for column in columns:
            cname = column.get("name") if isinstance(column, dict) else None
            ctype = column.get("type") if isinstance(column, dict) else None
            # "Structure of a DCR", Data types: string, int, long, real, boolean, dynamic,
            # datetime.
            if not isinstance(cname, str) or ctype not in STREAM_TYPES:
                raise DcrError(
                    f"{where}: column {column!r} needs a name and one of the types "
                    f"{', '.join(STREAM_TYPES)}"
                )
            declared[cname] = normalize_type(ctype) or ctype
        streams[name] = declared
    return streams


def _destinations(destinations: Any, label: str) -> set[str]:
    log_analytics = destinations.get("logAnalytics") if isinstance(destinations, dict) else None
    if not isinstance(log_analytics, list) or not log_analytics:
        raise DcrError(
            f"DCR {label}: properties.destinations.logAnalytics must name a workspace "
            "(the only destination this emulator stores into)"
        )
    names = set()
    for item in log_analytics:
        if not isinstance(item, dict) or not item.get("name"):
            raise DcrError(f"DCR {label}: each logAnalytics destination needs a 'name'")
        names.add(item["name"])
    return names


def _flow(
    flow: Any,
    where: str,
    streams: dict[str, dict[str, str]],
    destinations: set[str],
    tables: dict[str, TableSchema],
) -> list[DataFlow]:
    if not isinstance(flow, dict):
        raise DcrError(f"{where}: not an object")
    flow_streams = flow.get("streams")
    if not isinstance(flow_streams, list) or not flow_streams:
        raise DcrError(f"{where}: 'streams' must list at least one input stream")
    for stream in flow_streams:
        if stream not in streams:
            raise DcrError(f"{where}: stream {stream!r} is not in streamDeclarations")
    targets = flow.get("destinations")
    if not isinstance(targets, list) or not targets or not set(targets) <= destinations:
        raise DcrError(
            f"{where}: 'destinations' {targets!r} must name destinations of "
            f"properties.destinations.logAnalytics ({', '.join(sorted(destinations))})"
        )
    if "transform" in flow:
        raise DcrError(
            f"{where}: 'transform' (multi-stage transformations, preview) is not evaluated by "
            "this emulator; use transformKql"
        )
    kql = flow.get("transformKql")
    # "Structure of a DCR", Data flow properties: with a transformation, use a single stream.
    if kql is not None and len(flow_streams) > 1:
        raise DcrError(f"{where}: a data flow with transformKql must have exactly one stream")
    try:
        transform = parse_transform(kql)
    except TransformError as exc:
        raise DcrError(f"{where}: transformKql {kql!r} refused: {exc}") from None
    table = _output_table(flow.get("outputStream"), flow_streams, where, tables)
    result = []
    for stream in flow_streams:
        try:
            columns = transform.output_columns(streams[stream])
        except TransformError as exc:
            raise DcrError(f"{where}: transformKql {kql!r} on {stream}: {exc}") from None
        result.append(DataFlow(stream, transform, table, columns))
    return result


def _output_table(
    output: Any, flow_streams: list[str], where: str, tables: dict[str, TableSchema]
) -> str:
    # "Structure of a DCR", outputStream: Microsoft-[tableName] for a standard table,
    # Custom-[tableName] for a custom table. Without it, a custom stream goes to the custom
    # table of its own name (as in "Logs Ingestion API in Azure Monitor", sample DCR).
    if output is None:
        output = flow_streams[0]
    if not isinstance(output, str) or not output.startswith(("Microsoft-", "Custom-")):
        raise DcrError(
            f"{where}: outputStream {output!r} must be Microsoft-<table> or Custom-<table>_CL"
        )
    name = output.split("-", 1)[1]
    table = tables.get(name)
    custom = output.startswith("Custom-")
    # Azure refuses such a DCR at creation: "InvalidOutputTable: Table for output stream ... is
    # not available for destination ..." (error quoted in hashicorp/terraform-provider-azurerm
    # issue 28709).
    if table is None or table.custom != custom:
        known = ", ".join(
            sorted(("Custom-" if t.custom else "Microsoft-") + t.name for t in tables.values())
        )
        raise DcrError(
            f"{where}: table for outputStream {output!r} is not available (InvalidOutputTable); "
            f"known tables: {known}. Custom tables come from --tables definitions."
        )
    return name
