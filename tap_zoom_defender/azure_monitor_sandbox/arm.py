"""ARM deployment templates: "deploy" the resources a workspace set-up is made of.

An administrator sets the workspace up with ``az deployment group create --template-file``
("Deploy resources with ARM templates and Azure CLI"). The emulator reads the same template and
creates what it describes, one workspace, resource by resource:

- ``Microsoft.OperationalInsights/workspaces/tables``: a custom table from
  ``properties.schema`` (template reference "Microsoft.OperationalInsights workspaces/tables");
- ``Microsoft.Insights/dataCollectionRules``: a DCR from ``kind``, ``location`` and
  ``properties`` (template reference "Microsoft.Insights dataCollectionRules"), loaded as a DCR
  file is (``dcr.py``);
- ``Microsoft.OperationalInsights/workspaces/savedSearches`` with ``functionAlias`` (the
  Azure-Sentinel ASIM templates spell it ``FunctionAlias``): a workspace function, its
  ``functionParameters`` and ``query`` (template reference "Microsoft.OperationalInsights
  workspaces/savedSearches"); a saved search without an alias is not a function and is listed
  as ignored;
- ``Microsoft.Authorization/roleAssignments`` (and the older ``.../providers/roleAssignments``
  form): ignored, listed in the summary -- the emulator's app already holds Monitoring Metrics
  Publisher on every DCR.

Template expressions ("Template functions", strings in ``[...]``) are not evaluated: names and
locations are irrelevant to one workspace, and only ``workspaceResourceId`` /
``dataCollectionEndpointId`` inside a DCR may be expressions. A resource ``condition`` may be
``true``/``false``, ``[parameters('x')]`` or ``[not(empty(parameters('x')))]``, with the
parameter's ``defaultValue`` or a value passed in. Anything else is refused (TemplateError,
naming the template, the resource and the expression).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .kql import KQLError, parse_parameters
from .kql.syntax import Param
from .tables import TableSchema, parse_table_definitions
from .values import format_datetime

TABLES = "microsoft.operationalinsights/workspaces/tables"
DCRS = "microsoft.insights/datacollectionrules"
SAVED_SEARCHES = "microsoft.operationalinsights/workspaces/savedsearches"
ROLE_ASSIGNMENTS = "microsoft.authorization/roleassignments"
_EXPRESSION_KEYS = {"workspaceResourceId", "dataCollectionEndpointId"}
_PARAMETER = r"parameters\(\s*'([^']*)'\s*\)"
_IS_TRUE = re.compile(rf"^\[\s*{_PARAMETER}\s*\]$", re.IGNORECASE)
_NOT_EMPTY = re.compile(rf"^\[\s*not\(\s*empty\(\s*{_PARAMETER}\s*\)\s*\)\s*\]$", re.IGNORECASE)


class TemplateError(ValueError):
    """A template the emulator does not deploy; the message names the template and resource."""


@dataclass
class SavedFunction:
    """A workspace function (a saved search with a function alias)."""

    alias: str
    parameters: str  # functionParameters as written
    query: str
    params: tuple[Param, ...]
    origin: str

    def describe(self) -> dict[str, Any]:
        """JSON-friendly: alias, parameters (name, type, default), where it came from."""
        return {
            "alias": self.alias,
            "parameters": [
                {
                    "name": p.name,
                    "type": p.type,
                    "default": None if p.default is None else _plain(p.default.value),
                }
                for p in self.params
            ],
            "functionParameters": self.parameters,
            "origin": self.origin,
        }


@dataclass
class Deployment:
    """What one template created, and what it left out (and why)."""

    label: str
    tables: list[TableSchema] = field(default_factory=list)
    dcrs: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # (DCR, label)
    functions: list[SavedFunction] = field(default_factory=list)
    ignored: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # condition false

    def summary(self) -> dict[str, Any]:
        """JSON-friendly account of the deployment."""
        return {
            "template": self.label,
            "tables": [t.name for t in self.tables],
            "dcrs": [label for _, label in self.dcrs],
            "functions": [f.alias for f in self.functions],
            "ignored": self.ignored,
            "skipped": self.skipped,
        }


def read_template(item: dict[str, Any] | str | Path) -> tuple[dict[str, Any], str]:
    """Return a template document and its label, from a dict, JSON text or a file path."""
    if isinstance(item, dict):
        return item, "template"
    text, label = str(item), "template text"
    if isinstance(item, Path) or not text.lstrip().startswith("{"):
        label = str(item)
        try:
            text = Path(item).read_text("utf-8")
        except OSError as exc:
            raise TemplateError(f"template {item}: cannot read it ({exc})") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise TemplateError(f"template {label}: not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise TemplateError(f"template {label}: not a JSON object")
    return document, label


def declared_parameters(document: dict[str, Any]) -> set[str]:
    """Lower-cased names of the template's parameters (ARM names are case-insensitive)."""
    declared = document.get("parameters") or {}
    return {name.lower() for name in declared} if isinstance(declared, dict) else set()


def deploy_template(document: dict[str, Any], label: str, values: dict[str, Any]) -> Deployment:
    """Create what ``document`` describes (see the module docstring); TemplateError if not."""
    resources = document.get("resources")
    if not isinstance(resources, list):
        raise TemplateError(
            f"template {label}: 'resources' must be a list (languageVersion 2.0 symbolic "
            "resources are not deployed by this emulator)"
        )
    deployment = Deployment(label)
    for index, resource in enumerate(resources):
        if not isinstance(resource, dict):
            raise TemplateError(f"template {label}: resources[{index}] is not an object")
        kind = str(resource.get("type", ""))
        name = str(resource.get("name", f"resources[{index}]"))
        where = f"template {label}: resource {name!r} ({kind})"
        for key in ("resources", "copy"):
            if key in resource:
                raise TemplateError(f"{where}: '{key}' is not deployed by this emulator")
        if not _condition(resource.get("condition", True), document, values, where):
            deployment.skipped.append({"resource": name, "type": kind, "condition": "false"})
            continue
        _deploy(deployment, resource, kind, name, where)
    return deployment


def _deploy(deployment: Deployment, resource: dict, kind: str, name: str, where: str) -> None:
    lowered = kind.lower()
    props = resource.get("properties")
    if lowered == ROLE_ASSIGNMENTS or lowered.endswith("/providers/roleassignments"):
        deployment.ignored.append(
            {
                "resource": name,
                "type": kind,
                "why": "the emulator's app already holds Monitoring Metrics Publisher on every DCR",
            }
        )
        return
    if lowered not in (TABLES, DCRS, SAVED_SEARCHES):
        raise TemplateError(
            f"{where}: this resource type is not deployed by this emulator (it deploys "
            "workspaces/tables, dataCollectionRules, workspaces/savedSearches and ignores "
            "roleAssignments)"
        )
    if not isinstance(props, dict):
        raise TemplateError(f"{where}: 'properties' must be an object")
    if lowered == TABLES:
        table = {"properties": {"schema": _literal(props.get("schema"), where, "schema")}}
        deployment.tables.extend(parse_table_definitions(json.dumps(table), where))
    elif lowered == DCRS:
        document = {
            "kind": resource.get("kind"),
            "location": resource.get("location"),
            "properties": _literal(props, where, "properties"),
        }
        deployment.dcrs.append((document, f"{deployment.label}:{name}"))
    else:
        function = _saved_function(props, where)
        if function is None:
            deployment.ignored.append(
                {"resource": name, "type": kind, "why": "a saved search without functionAlias"}
            )
        else:
            deployment.functions.append(function)


def _saved_function(props: dict[str, Any], where: str) -> SavedFunction | None:
    alias = props.get("functionAlias", props.get("FunctionAlias"))
    if alias is None:
        return None
    alias = _literal(alias, where, "functionAlias")
    query = _literal(props.get("query"), where, "query")
    parameters = _literal(props.get("functionParameters") or "", where, "functionParameters")
    if not isinstance(alias, str) or not alias or not isinstance(query, str):
        raise TemplateError(f"{where}: a function needs a functionAlias and a query (strings)")
    if not isinstance(parameters, str):
        raise TemplateError(f"{where}: functionParameters must be a string")
    try:
        params = parse_parameters(parameters, f"functionParameters of {alias}")
    except KQLError as exc:
        raise TemplateError(f"{where}: {exc}") from None
    return SavedFunction(alias, parameters, query, params, where)


def _literal(value: Any, where: str, path: str) -> Any:
    """``value`` with ARM's ``[[`` escapes undone; refuse expressions (see module docstring)."""
    if isinstance(value, str):
        if value.startswith("[[") and value.endswith("]"):
            return value[1:]
        if value.startswith("[") and value.endswith("]"):
            if path.rsplit(".", 1)[-1] in _EXPRESSION_KEYS:
                return value
            raise TemplateError(
                f"{where}: {path} is the template expression {value!r}, which this emulator "
                "does not evaluate"
            )
        return value
    if isinstance(value, dict):
        return {k: _literal(v, where, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_literal(v, where, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _condition(
    condition: Any, document: dict[str, Any], values: dict[str, Any], where: str
) -> bool:
    if isinstance(condition, bool):
        return condition
    text = str(condition)
    is_true, not_empty = _IS_TRUE.match(text), _NOT_EMPTY.match(text)
    match = is_true or not_empty
    if match is None:
        raise TemplateError(
            f"{where}: condition {text!r} is not evaluated by this emulator (it evaluates "
            "[parameters('x')] and [not(empty(parameters('x')))])"
        )
    value = parameter_value(document, values, match.group(1), where)
    if is_true:
        if not isinstance(value, bool):
            raise TemplateError(
                f"{where}: condition {text!r}: parameter value {value!r} is not bool"
            )
        return value
    if not isinstance(value, str | list | dict):
        raise TemplateError(f"{where}: condition {text!r}: empty() of {value!r}")
    return len(value) > 0


def parameter_value(document: dict[str, Any], values: dict[str, Any], name: str, where: str) -> Any:
    """Return template parameter ``name``: the value passed in, or its ``defaultValue``."""
    declared = {k.lower(): (k, v) for k, v in (document.get("parameters") or {}).items()}
    if name.lower() not in declared:
        raise TemplateError(f"{where}: the template declares no parameter {name!r}")
    real_name, spec = declared[name.lower()]
    kind = str((spec or {}).get("type", "string")).lower()
    passed = {k.lower(): v for k, v in values.items()}
    if name.lower() in passed:
        return _typed(passed[name.lower()], kind, real_name, where)
    if not isinstance(spec, dict) or "defaultValue" not in spec:
        raise TemplateError(f"{where}: parameter {real_name!r} has no value (pass it in)")
    default = spec["defaultValue"]
    if isinstance(default, str) and default.startswith("[") and default.endswith("]"):
        raise TemplateError(
            f"{where}: the default of parameter {real_name!r} is the expression {default!r}, "
            "which this emulator does not evaluate (pass a value in)"
        )
    return default


def _typed(value: Any, kind: str, name: str, where: str) -> Any:
    """Read a passed value (command-line text) as the parameter's declared type."""
    if not isinstance(value, str) or kind in ("string", "securestring"):
        return value
    if kind == "bool" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if kind == "int" and re.fullmatch(r"-?\d+", value):
        return int(value)
    if kind in ("array", "object", "secureobject"):
        try:
            return json.loads(value)
        except ValueError:
            pass
    raise TemplateError(f"{where}: parameter {name!r} is {kind}; cannot read {value!r} as that")


def _plain(value: Any) -> Any:
    return format_datetime(value) if isinstance(value, datetime) else value
