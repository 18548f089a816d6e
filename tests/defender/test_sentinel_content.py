"""The shipped Sentinel content, checked offline for what can be checked without a workspace.

ASIM's naming and parameter lists ("Develop ASIM parsers", "Manage ASIM parsers", the schemas'
"Filtering parser parameters" and Azure-Sentinel's empty custom unifying parsers), the ARM
template's documented shape (deploymentTemplate schema, resource types and API versions), and
that every query refers only to columns the tables or the parsers provide. Running the parsers
on what Azure stores is ``test_event_time_in_sentinel.py`` (through the emulator).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid

import pytest

from tap_zoom_defender.defender.mapping import PROFILES
from tap_zoom_defender.defender.sentinel import analytics_rules, hunting_queries, parsers

TABLE_OF_SCHEMA = {"Authentication": "ZoomAuthentication_CL", "AuditEvent": "ZoomAuditEvent_CL"}
# Filtering parameters per schema: the schema pages' lists plus `disabled` (every source parser).
FILTERING = {
    "Authentication": [
        ("starttime", "datetime"), ("endtime", "datetime"), ("username_has_any", "dynamic"),
        ("targetappname_has_any", "dynamic"), ("srcipaddr_has_any_prefix", "dynamic"),
        ("srchostname_has_any", "dynamic"), ("eventtype_in", "dynamic"),
        ("eventresultdetails_in", "dynamic"), ("eventresult", "string"), ("disabled", "bool"),
    ],
    "AuditEvent": [
        ("starttime", "datetime"), ("endtime", "datetime"), ("srcipaddr_has_any_prefix", "dynamic"),
        ("eventtype_in", "dynamic"), ("eventresult", "string"),
        ("actorusername_has_any", "dynamic"), ("operation_has_any", "dynamic"),
        ("object_has_any", "dynamic"), ("newvalue_has_any", "dynamic"), ("disabled", "bool"),
    ],
}  # fmt: skip
# Azure-Sentinel ASIM/deploy/EmptyCustomUnifyingParsers: the functions the built-in unifying
# parsers call when they exist, with the signatures those templates declare.
CUSTOM_UNIFYING = {
    "Im_AuthenticationCustom": [*FILTERING["Authentication"], ("pack", "bool")],
    "ASim_AuthenticationCustom": [("disabled", "bool"), ("pack", "bool")],
    "Im_AuditEventCustom": [
        ("starttime", "datetime"), ("endtime", "datetime"), ("srcipaddr_has_any_prefix", "dynamic"),
        ("actorusername_has_any", "dynamic"), ("operation_has_any", "dynamic"),
        ("eventtype_in", "dynamic"), ("eventresult", "string"), ("object_has_any", "dynamic"),
        ("newvalue_has_any", "dynamic"), ("disabled", "bool"), ("pack", "bool"),
    ],
    "ASim_AuditEventCustom": [("disabled", "bool"), ("pack", "bool")],
}  # fmt: skip
# ASIM aliases and constants the parsers add at query time.
PARSER_ADDS = {"EventSchema", "Dvc", "User", "IpAddr", "Src", "Application", "LogonTarget",
               "Dst", "Value"}  # fmt: skip
ARM_TYPES = {
    "Microsoft.OperationalInsights/workspaces/tables": "2022-10-01",
    "Microsoft.Insights/dataCollectionRules": "2023-03-11",
    "Microsoft.Authorization/roleAssignments": "2022-04-01",
    "Microsoft.OperationalInsights/workspaces/savedSearches": "2020-08-01",
}
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"


def _columns(table: str) -> set[str]:
    (found,) = {t for t in PROFILES["asim"].values() if t.name == table}
    return set(found.column_types())


def _template() -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "tap_zoom_defender.defender.azure_setup", "template"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return json.loads(done.stdout)


def _unknown_columns(query: str, known: set[str]) -> set[str]:
    """PascalCase names a query reads that are neither known columns nor defined by it."""
    text = re.sub(r"//[^\n]*", "", query)
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "''", text)
    defined = set(re.findall(r"\b([A-Za-z_]\w*)\s*=(?!=|~)", text))
    defined |= set(re.findall(r"\blet\s+(\w+)", text))
    used = {m.group(1) for m in re.finditer(r"(?<![.\w])([A-Z]\w*)\b(?!\s*\()", text)}
    return used - defined - known


# --- parsers ------------------------------------------------------------------------------------


def test_parser_names_follow_asim_naming():
    names = {p.name for p in parsers()}
    assert names == {
        "vimAuthenticationZoom", "ASimAuthenticationZoom", "vimAuditEventZoom",
        "ASimAuditEventZoom", *CUSTOM_UNIFYING,
    }  # fmt: skip
    for parser in parsers():
        if parser.name in CUSTOM_UNIFYING:
            continue
        assert re.fullmatch(rf"(vim|ASim){parser.schema}Zoom", parser.name), parser.name


@pytest.mark.parametrize("schema", sorted(FILTERING))
def test_source_parsers_take_the_schemas_parameters(schema):
    by_name = {p.name: p for p in parsers()}
    filtering = by_name[f"vim{schema}Zoom"]
    assert [(n, t) for n, t, _ in filtering.params] == FILTERING[schema]
    plain = by_name[f"ASim{schema}Zoom"]
    assert [(n, t) for n, t, _ in plain.params] == [("disabled", "bool")]
    for parser in (filtering, plain):
        # Every parameter declared in the file is the function's own, with the same default.
        for name, kind, default in parser.params:
            assert re.search(rf"\b{name}\s*:\s*{kind}\s*=\s*{re.escape(default)}", parser.query)
        assert f"{TABLE_OF_SCHEMA[schema]}\n" in parser.query


@pytest.mark.parametrize("name", sorted(CUSTOM_UNIFYING))
def test_custom_unifying_parsers_have_microsofts_signature_and_call_ours(name):
    (parser,) = [p for p in parsers() if p.name == name]
    assert [(n, t) for n, t, _ in parser.params] == CUSTOM_UNIFYING[name]
    schema = "Authentication" if "Authentication" in name else "AuditEvent"
    called = f"{'vim' if name.startswith('Im_') else 'ASim'}{schema}Zoom"
    assert re.search(rf"^union isfuzzy=true\s+{called}\(", parser.query), parser.query
    # named arguments only, each one a parameter the called parser declares
    (source,) = [p for p in parsers() if p.name == called]
    arguments = re.findall(r"(\w+)\s*=\s*(\w+)", parser.query.split(called, 1)[1])
    assert {a for a, _ in arguments} == {n for n, _, _ in source.params}
    assert all(a == b for a, b in arguments)


@pytest.mark.parametrize("schema", sorted(FILTERING))
def test_parsers_read_only_columns_their_table_has(schema):
    known = _columns(TABLE_OF_SCHEMA[schema]) | {TABLE_OF_SCHEMA[schema]}
    for parser in parsers():
        if parser.schema == schema and parser.name not in CUSTOM_UNIFYING:
            assert not _unknown_columns(parser.query, known), parser.name
            # and the event's own time is what they return
            assert "EventTime = coalesce(EventStartTime, TimeGenerated)" in parser.query
            assert "TimeGenerated = EventTime" in parser.query


# --- hunting queries and analytics rules --------------------------------------------------------

HUNTING_KEYS = {"id", "name", "description", "requiredDataConnectors", "tactics",
                "relevantTechniques", "query", "entityMappings", "version"}  # fmt: skip
RULE_KEYS = HUNTING_KEYS | {"severity", "queryFrequency", "queryPeriod", "triggerOperator",
                            "triggerThreshold", "kind"}  # fmt: skip


@pytest.mark.parametrize(
    ("doc", "keys"),
    [(d, HUNTING_KEYS) for d in hunting_queries()] + [(d, RULE_KEYS) for d in analytics_rules()],
    ids=lambda v: v["file"] if isinstance(v, dict) else "",
)
def test_queries_have_the_repository_form_and_known_columns(doc, keys):
    assert keys <= set(doc), f"{doc['file']} lacks {keys - set(doc)}"
    uuid.UUID(doc["id"])
    query = doc["query"]
    assert re.search(r"\b_Im_(Authentication|AuditEvent)\(starttime = ", query), (
        "rules go through the unifying parser with an event-time range"
    )
    known = set().union(*(_columns(t) for t in TABLE_OF_SCHEMA.values())) | PARSER_ADDS
    assert not _unknown_columns(query, known), doc["file"]
    for mapping in doc["entityMappings"]:
        for field in mapping["fieldMappings"]:
            assert re.search(rf"\b{field['columnName']}\s*=", query), field
    assert len({d["id"] for d in hunting_queries() + analytics_rules()}) == len(
        hunting_queries() + analytics_rules()
    )


# --- the ARM template ---------------------------------------------------------------------------


def test_template_is_a_deployment_template_of_documented_resources():
    template = _template()
    assert template["$schema"].endswith("/deploymentTemplate.json#")
    assert template["contentVersion"] == "1.0.0.0"
    for resource in template["resources"]:
        assert ARM_TYPES[resource["type"]] == resource["apiVersion"], resource["type"]
    assert set(template["outputs"]) == {"dataCollectionRuleImmutableId", "logsIngestionEndpoint"}
    assert "workspaceName" in template["parameters"]
    assert "defaultValue" not in template["parameters"]["workspaceName"]


def test_template_deploys_every_table_the_dcr_writes_with_the_columns_it_declares():
    template = _template()
    tables = {
        r["properties"]["schema"]["name"]: r["properties"]["schema"]["columns"]
        for r in template["resources"]
        if r["type"].endswith("/tables")
    }
    (dcr,) = [r for r in template["resources"] if r["type"].endswith("dataCollectionRules")]
    assert dcr["kind"] == "Direct"
    declared = dcr["properties"]["streamDeclarations"]
    for flow in dcr["properties"]["dataFlows"]:
        table = flow["outputStream"].removeprefix("Custom-")
        assert table in tables, f"the DCR writes {table}, which the template does not create"
        (stream,) = flow["streams"]
        assert [c["name"] for c in declared[stream]["columns"]] == [
            c["name"] for c in tables[table]
        ]
        ids = [d for d in dcr["dependsOn"] if f"'{table}'" in d]
        assert ids, f"the DCR does not wait for {table}"


def test_template_deploys_every_parser_and_every_function_a_parser_names():
    template = _template()
    functions = {
        r["properties"]["functionAlias"]: r
        for r in template["resources"]
        if r["type"].endswith("/savedSearches")
    }
    assert set(functions) == {p.name for p in parsers()}
    for parser in parsers():
        resource = functions[parser.name]
        assert resource["properties"]["functionParameters"] == parser.function_parameters
        assert resource["properties"]["query"] == parser.query
        assert resource["properties"]["category"] == "ASIM"
        called = set(re.findall(r"\b((?:vim|ASim)\w+Zoom)\(", parser.query))
        assert called <= set(functions), f"{parser.name} calls {called - set(functions)}"
        for name in called:  # deployed after the functions it calls
            assert any(f"'{name}'" in d for d in resource["dependsOn"]), (parser.name, name)
        if parser.name in CUSTOM_UNIFYING:
            assert resource["condition"] == "[parameters('deployCustomUnifyingParsers')]"
        else:
            assert "condition" not in resource


def test_template_grants_the_ingestion_role_on_the_dcr_when_a_principal_is_given():
    template = _template()
    (role,) = [r for r in template["resources"] if r["type"].endswith("roleAssignments")]
    assert MONITORING_METRICS_PUBLISHER in role["properties"]["roleDefinitionId"]
    assert role["properties"]["principalType"] == "ServicePrincipal"
    assert role["condition"] == "[not(empty(parameters('ingestionPrincipalId')))]"
    assert "dataCollectionRules" in role["scope"]
