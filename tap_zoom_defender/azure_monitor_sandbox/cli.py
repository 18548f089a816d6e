"""``azure-monitor-sandbox``: run the Azure Monitor ingestion emulator until Ctrl-C / SIGTERM."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from .arm import TemplateError
from .dcr import DcrError
from .limits import BYTES_PER_WINDOW, MAX_CALL_BYTES, REQUESTS_PER_WINDOW, WINDOW_SECONDS
from .sandbox import AzureMonitorSandbox, DcrSource, SandboxConfig
from .setup_output import SetupOutputError
from .tables import TableDefinitionError
from .workspace import FIELD_LIMIT_BYTES


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _pair(text: str) -> tuple[str, str]:
    left, sep, right = text.partition("=")
    if not sep or not left or not right:
        raise argparse.ArgumentTypeError("expected CLIENT_ID=SECRET")
    return left, right


def _parameter(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError("expected NAME=VALUE")
    return name, value


def build_parser() -> argparse.ArgumentParser:
    """Describe every option (``azure-monitor-sandbox --help``)."""
    d = SandboxConfig(client_secret="")
    p = argparse.ArgumentParser(
        prog="azure-monitor-sandbox",
        description=(
            "A local emulator of Azure Monitor's Logs Ingestion API and its Entra ID token "
            "endpoint, over HTTPS with a throwaway CA. It loads data collection rules and "
            "custom-table definitions, stores rows as a Log Analytics workspace would (unknown "
            "columns dropped, TimeGenerated window, 64 KB fields) and answers 401/403/404/413/429 "
            "as documented. Prints its endpoint and credentials, then serves until Ctrl-C."
        ),
        epilog=(
            "Without --dcr/--template/--azure-setup-profile it deploys the ARM template the "
            "project generates for the asim profile (python -m "
            "tap_zoom_defender.defender.azure_setup template --profile asim, run as a separate "
            "process). "
            "Stored rows and counts: GET {endpoint}/_sandbox/tables[/TABLE]. KQL: POST "
            '{endpoint}/_sandbox/query with {"query": "..."} answers {"columns", "rows", '
            '"warnings"} (400 KQLError for what the emulator does not evaluate, SemanticError '
            "for what Kusto rejects), over the stored rows, the templates' workspace functions "
            "and Sentinel's built-in parsers _Im_Authentication, _ASim_Authentication, "
            "_Im_AuditEvent, _ASim_AuditEvent (with their Native parsers; each picks up the "
            "*Custom workspace function). Supported KQL: let (scalars, functions), tables, "
            "function calls, union [isfuzzy=true], datatable, where, extend, project, "
            "project-away, project-rename; ==, !=, <, <=, >, >=, =~, !~, and, or, in, !in, in~, "
            "!in~, has, !has, has_any, contains, startswith, endswith (and negations); isnull, "
            "isnotnull, isempty, isnotempty, not, array_length, coalesce, iff/iif, tostring, "
            "todatetime, toint, strcat, has_any_ipv4_prefix, column_ifexists. Anything else is "
            "refused with its line and column. Workspace functions: GET "
            "{endpoint}/_sandbox/functions."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    w = p.add_argument_group("workspace set-up")
    w.add_argument(
        "--dcr",
        action="append",
        default=[],
        metavar="FILE[=IMMUTABLE_ID]",
        help="a DCR JSON file (as for az monitor data-collection rule create); repeatable",
    )
    w.add_argument(
        "--tables",
        action="append",
        default=[],
        metavar="FILE",
        help="custom table definitions: 'az monitor log-analytics workspace table "
        "create' commands or JSON; repeatable",
    )
    w.add_argument(
        "--azure-setup-profile",
        action="append",
        default=[],
        metavar="PROFILE",
        help="load the DCR and custom tables that azure_setup generates for this "
        "profile (asim, cloudappevents); repeatable",
    )
    w.add_argument(
        "--template",
        action="append",
        default=[],
        metavar="FILE",
        help="an ARM deployment template (as for az deployment group create "
        "--template-file): its workspaces/tables, dataCollectionRules and "
        "workspaces/savedSearches (functions) are deployed, roleAssignments ignored; "
        "repeatable",
    )
    w.add_argument(
        "--template-parameter",
        action="append",
        default=[],
        type=_parameter,
        metavar="NAME=VALUE",
        help="a template parameter (read as its declared type; used by resource "
        "conditions); repeatable",
    )
    w.add_argument(
        "--dcr-immutable-id",
        help="immutable id of the first DCR (default: derived from its file or profile name)",
    )
    a = p.add_argument_group("Entra ID")
    a.add_argument("--tenant-id", default=d.tenant_id)
    a.add_argument(
        "--client-id",
        default=d.client_id,
        help="app registration with Monitoring Metrics Publisher on every DCR",
    )
    a.add_argument("--client-secret", help="its secret (default: random, printed)")
    a.add_argument(
        "--app-without-role",
        action="append",
        default=[],
        type=_pair,
        metavar="CLIENT_ID=SECRET",
        help="an app that gets tokens but lacks the role (-> 403); repeatable",
    )
    a.add_argument(
        "--token-ttl", type=_positive, default=d.token_ttl, help="access-token lifetime (s)"
    )
    lim = p.add_argument_group("limits")
    lim.add_argument(
        "--max-call-bytes",
        type=int,
        default=MAX_CALL_BYTES,
        help="413 above this many bytes per call (compressed or not)",
    )
    lim.add_argument(
        "--field-limit-bytes",
        type=int,
        default=FIELD_LIMIT_BYTES,
        help="values longer than this are truncated",
    )
    lim.add_argument(
        "--requests-per-window",
        type=int,
        default=REQUESTS_PER_WINDOW,
        help="429 past this many calls per DCR per window",
    )
    lim.add_argument(
        "--bytes-per-window",
        type=int,
        default=BYTES_PER_WINDOW,
        help="429 past this many body bytes per DCR per window",
    )
    lim.add_argument(
        "--rate-window-seconds",
        type=_positive,
        default=WINDOW_SECONDS,
        help="length of the sliding rate window",
    )
    n = p.add_argument_group("network")
    n.add_argument("--host", default=d.host, help="address to bind")
    n.add_argument("--port", type=int, default=8443, help="port to bind (0 = any free port)")
    n.add_argument(
        "--url-file",
        type=Path,
        help="write endpoint, authority, token URL, tenant/client id and secret, CA "
        "certificate path and DCR immutable ids to this JSON file once listening",
    )
    n.add_argument(
        "--ca-dir",
        type=Path,
        help="directory for ca.pem (default: a temporary directory removed on exit)",
    )
    n.add_argument("--verbose", action="store_true", help="log every request on stderr")
    return p


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """Turn parsed options into a SandboxConfig."""
    dcrs = []
    for item in args.dcr:
        path, _, rule_id = item.partition("=")
        dcrs.append(DcrSource(Path(path), rule_id or None, path))
    cfg = SandboxConfig(
        dcrs=list(dcrs),
        table_definitions=list(args.tables),
        azure_setup_profiles=list(args.azure_setup_profile),
        templates=[Path(item) for item in args.template],
        template_parameters=dict(args.template_parameter),
        dcr_immutable_id=args.dcr_immutable_id,
        tenant_id=args.tenant_id,
        client_id=args.client_id,
        apps_without_role=list(args.app_without_role),
        token_ttl=args.token_ttl,
        max_call_bytes=args.max_call_bytes,
        field_limit_bytes=args.field_limit_bytes,
        rate_limit_requests=args.requests_per_window,
        rate_limit_bytes=args.bytes_per_window,
        rate_window_seconds=args.rate_window_seconds,
        host=args.host,
        port=args.port,
        ca_dir=args.ca_dir,
        verbose=args.verbose,
    )
    if args.client_secret:
        cfg.client_secret = args.client_secret
    return cfg


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT/SIGTERM; exit 0 on a clean stop, 2 on bad options or set-up."""
    args = build_parser().parse_args(argv)
    try:
        sandbox = AzureMonitorSandbox(config_from_args(args))
        sandbox.start()
    except (DcrError, TableDefinitionError, SetupOutputError, TemplateError) as exc:
        print(f"azure-monitor-sandbox: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"azure-monitor-sandbox: error: cannot listen on {args.host}:{args.port}: "
            f"{exc.strerror or exc} (choose another --port, or --port 0 for any free port)",
            file=sys.stderr,
        )
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    info = {**sandbox.info(), "pid": os.getpid()}
    if args.url_file:
        tmp = args.url_file.with_suffix(args.url_file.suffix + ".tmp")
        tmp.write_text(json.dumps(info, indent=2) + "\n")
        tmp.replace(args.url_file)  # atomic: readers never see half a file
    print("Azure Monitor sandbox (Logs Ingestion API + Entra ID)")
    print(f"  Endpoint:   {sandbox.endpoint}   (azure_endpoint)")
    print(f"  Authority:  {sandbox.authority}   (azure_authority, instance discovery off)")
    print(f"  tenant_id={sandbox.tenant_id}  client_id={sandbox.client_id}")
    print(f"  client_secret={sandbox.client_secret}  (sandbox credentials, not real ones)")
    print(f"  CA certificate: {sandbox.ca_cert}   (REQUESTS_CA_BUNDLE)")
    for rule in sandbox.dcrs.values():
        print(f"  DCR {rule.immutable_id} ({rule.label})")
        for stream, flows in rule.summary()["streams"].items():
            tables = ", ".join(f["table"] for f in flows)
            print(f"    {stream} -> {tables}")
    functions = [f["alias"] for f in sandbox.functions()]
    if functions:
        print(f"  Workspace functions: {', '.join(functions)}")
    print(f"  Stored rows: GET {sandbox.url}/_sandbox/tables")
    print(f'  KQL: POST {sandbox.url}/_sandbox/query {{"query": ...}}')
    print("Ctrl-C to stop.", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
    print("azure-monitor-sandbox stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
