"""Build the workspace a SandboxConfig describes: tables, DCRs and workspace functions.

Order (each step may use what the previous ones made, as a real set-up would):

1. table schemas: native tables (``native_tables.txt``), then custom tables from
   ``table_definitions``, the generated set-up of ``azure_setup_profiles`` and the templates;
2. DCRs: ``dcrs``, then the profiles', then the templates' (each checked against the tables);
   the first DCR without an immutable id of its own gets ``dcr_immutable_id`` if one is set,
   every other one an id derived from its label (Azure assigns ids on creation);
3. workspace functions: the templates' saved searches with a function alias.

With none of ``dcrs``, ``templates`` and ``azure_setup_profiles``, the default set-up is the
ARM template the project generates for the asim profile (``azure_setup template --profile
asim``): its tables, DCR and ASIM parser functions, deployed as ``az deployment group create``
would deploy them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .arm import Deployment, SavedFunction, TemplateError, declared_parameters, deploy_template
from .arm import read_template as read_arm
from .config import DcrSource, SandboxConfig
from .dcr import DataCollectionRule, DcrError, load_dcr
from .kql.sentinel import BUILTINS
from .setup_output import generated_dcr, generated_tables, generated_template
from .tables import TableDefinitionError, TableSchema, load_native_tables, parse_table_definitions

# The set-up loaded when a config names none: the asim profile's generated ARM template.
DEFAULT_TEMPLATE_PROFILE = "asim"


@dataclass
class LoadedSetup:
    """Every known table schema, the DCRs by immutable id, the workspace functions by alias."""

    tables: dict[str, TableSchema]
    dcrs: dict[str, DataCollectionRule]
    functions: dict[str, SavedFunction] = field(default_factory=dict)
    deployments: list[Deployment] = field(default_factory=list)


def load_setup(cfg: SandboxConfig) -> LoadedSetup:
    """Load what ``cfg`` describes (DcrError / TableDefinitionError / TemplateError if not)."""
    tables = load_native_tables()
    sources: list[Any] = list(cfg.dcrs)
    profiles = list(cfg.azure_setup_profiles)
    templates = [read_arm(item) for item in cfg.templates]
    if not (sources or profiles or templates):
        profile = DEFAULT_TEMPLATE_PROFILE
        templates = [(generated_template(profile), f"azure_setup template --profile {profile}")]
    definitions: list[tuple[str, str]] = []
    for profile in profiles:
        definitions.append((generated_tables(profile), f"azure_setup tables --profile {profile}"))
        sources.append(DcrSource(generated_dcr(profile), label=f"azure_setup-{profile}"))
    for item in cfg.table_definitions:
        if isinstance(item, Path) or not str(item).lstrip().startswith(("az ", "{", "[")):
            try:
                definitions.append((Path(item).read_text("utf-8"), str(item)))
            except OSError as exc:
                raise TableDefinitionError(f"table definitions {item}: {exc}") from None
        else:
            definitions.append((str(item), "table definitions"))
    for text, where in definitions:
        for table in parse_table_definitions(text, where):
            tables[table.name] = table
    deployments = _deploy(templates, cfg.template_parameters)
    for deployment in deployments:
        for table in deployment.tables:
            tables[table.name] = table
        sources.extend(DcrSource(doc, label=label) for doc, label in deployment.dcrs)
    dcrs: dict[str, DataCollectionRule] = {}
    for index, source in enumerate(sources):
        rule = load_source(source, tables, cfg.dcr_immutable_id if index == 0 else None)
        if rule.immutable_id in dcrs:
            raise DcrError(f"two DCRs have the immutable id {rule.immutable_id}")
        dcrs[rule.immutable_id] = rule
    return LoadedSetup(tables, dcrs, _functions(deployments), deployments)


def _deploy(
    documents: list[tuple[dict[str, Any], str]], values: dict[str, Any]
) -> list[Deployment]:
    declared = set().union(*(declared_parameters(doc) for doc, _ in documents))
    unknown = sorted(n for n in values if n.lower() not in declared)
    if unknown:
        raise TemplateError(
            f"template parameters {', '.join(unknown)} are declared by no template "
            f"(declared: {', '.join(sorted(declared)) or 'none'})"
        )
    return [deploy_template(doc, label, values) for doc, label in documents]


def _functions(deployments: list[Deployment]) -> dict[str, SavedFunction]:
    functions: dict[str, SavedFunction] = {}
    for deployment in deployments:
        for function in deployment.functions:
            if function.alias in BUILTINS:
                raise TemplateError(
                    f"{function.origin}: {function.alias} is the name of a Sentinel built-in parser"
                )
            if function.alias in functions:
                raise TemplateError(
                    f"{function.origin}: function {function.alias} is also defined by "
                    f"{functions[function.alias].origin}"
                )
            functions[function.alias] = function
    return functions


def load_source(
    source: Any, tables: dict[str, TableSchema], default_id: str | None
) -> DataCollectionRule:
    """Load one DCR (a DcrSource, dict, JSON text or path) against ``tables``."""
    src = source if isinstance(source, DcrSource) else DcrSource(source)
    document, label = src.document, src.label
    if isinstance(document, Path) or (
        isinstance(document, str) and not document.lstrip().startswith("{")
    ):
        path = Path(document)
        label = label or str(path)
        try:
            document = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise DcrError(f"DCR {path}: cannot read it ({exc})") from None
    elif isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise DcrError(f"DCR {label or 'text'}: not JSON ({exc})") from None
    rule = load_dcr(document, tables, label=label or "dcr", immutable_id=src.immutable_id)
    if default_id and not src.immutable_id:
        rule.immutable_id = default_id
    return rule
