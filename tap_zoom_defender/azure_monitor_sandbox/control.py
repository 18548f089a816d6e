"""``/_sandbox/...``: query and control routes for tests, scripts and the demo.

Not part of Azure's API (Azure's own way to read stored rows is a KQL query through the Log
Analytics query API; ``/_sandbox/query`` evaluates a subset of KQL instead). No
authentication, never rate limited, never in the request log.

- ``GET  /_sandbox/info``                the url-file content (endpoint, credentials, DCRs, ...)
- ``GET  /_sandbox/tables``              per table: received, stored, TimeGenerated replaced /
                                         missing, dropped columns, nulled and truncated values
- ``GET  /_sandbox/tables/{table}``      the table's columns, counts and stored rows
                                         (``?offset=&limit=`` to page)
- ``GET  /_sandbox/calls``               the ingestion request log (``?stream=``, ``?since=`` in
                                         monotonic seconds, ``?rows=1`` to include the rows)
- ``POST /_sandbox/faults``              ``{"status": 503, "times": 2, "headers": {...}}``: the
                                         next accepted calls fail so (429, 5xx, ...)
- ``DELETE /_sandbox/faults``            forget scripted failures
- ``POST /_sandbox/roles``               ``{"client_id", "granted": bool, "dcr": id|null}``
- ``POST /_sandbox/tokens/revoke``       every issued token -> 401 InvalidToken
- ``POST /_sandbox/tokens/expire``       every issued token -> 401 TokenExpired
- ``POST /_sandbox/reset``               forget rows, counts, calls, faults, rate windows, roles
- ``POST /_sandbox/query``               ``{"query": "<KQL>"}`` -> ``{"columns", "rows",
                                         "warnings"}``: the query over the stored rows and the
                                         workspace functions (subset: ``kql/__init__.py``); 400
                                         ``KQLError`` (not evaluated here) or ``SemanticError``
                                         (Kusto would reject it too)
- ``GET  /_sandbox/functions``           the workspace functions: alias, parameters, origin
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

from .kql import KQLError
from .server import Reply, azure_error

if TYPE_CHECKING:
    from .sandbox import AzureMonitorSandbox


def handle_control(
    sb: AzureMonitorSandbox, method: str, name: str, query: dict[str, str], body: bytes
) -> Reply:
    """Answer one control request."""
    try:
        spec = json.loads(body) if body else {}
        if method == "GET" and name == "info":
            return Reply(200, sb.info())
        if method == "GET" and name == "tables":
            return Reply(200, {"tables": sb.tables_summary()})
        if method == "GET" and name.startswith("tables/"):
            table = name[len("tables/") :]
            if table not in sb.workspace.tables:
                return azure_error(404, "TableNotFound", f"No table {table!r} in this workspace")
            offset = int(query.get("offset", "0"))
            limit = int(query["limit"]) if "limit" in query else None
            rows = sb.rows(table)
            return Reply(
                200,
                {
                    "table": table,
                    "columns": [
                        {"name": n, "type": t}
                        for n, t in sb.workspace.tables[table].columns.items()
                    ],
                    "counts": sb.stats(table),
                    "offset": offset,
                    "rows": rows[offset : None if limit is None else offset + limit],
                },
            )
        if method == "GET" and name == "calls":
            since = float(query.get("since", "0"))
            with_rows = query.get("rows") in ("1", "true")
            calls = [
                {k: v for k, v in asdict(c).items() if with_rows or k != "rows"}
                for c in sb.calls
                if c.at >= since and query.get("stream") in (None, c.stream)
            ]
            return Reply(200, {"calls": calls})
        if method == "POST" and name == "faults":
            sb.fail_next(int(spec["status"]), int(spec.get("times", 1)), spec.get("headers"))
            return Reply(200, {"faults": "scripted"})
        if method == "DELETE" and name == "faults":
            sb.clear_faults()
            return Reply(200, {"faults": "cleared"})
        if method == "POST" and name == "roles":
            if spec.get("granted", True):
                sb.grant_role(spec["client_id"], spec.get("dcr"))
            else:
                sb.revoke_role(spec["client_id"], spec.get("dcr"))
            return Reply(200, {"roles": "set"})
        if method == "POST" and name == "tokens/revoke":
            sb.revoke_tokens()
            return Reply(200, {"tokens": "revoked"})
        if method == "POST" and name == "tokens/expire":
            sb.expire_tokens()
            return Reply(200, {"tokens": "expired"})
        if method == "POST" and name == "query":
            text = spec.get("query") if isinstance(spec, dict) else None
            if not isinstance(text, str):
                return azure_error(400, "BadRequest", 'query: expected {"query": "<KQL>"}')
            try:
                result = sb.query_result(text)
            except KQLError as exc:
                return azure_error(400, exc.code, str(exc))
            return Reply(200, asdict(result))
        if method == "GET" and name == "functions":
            return Reply(200, {"functions": sb.functions()})
        if method == "POST" and name == "reset":
            sb.reset()
            return Reply(200, {"reset": True})
    except (ValueError, TypeError, KeyError) as exc:
        return azure_error(400, "BadRequest", f"{name}: {type(exc).__name__}: {exc}")
    return azure_error(404, "NotFound", f"No such sandbox route: {method} /_sandbox/{name}")
