"""``zoom-sandbox``: run the Zoom API emulator in the foreground until Ctrl-C / SIGTERM."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

from tap_zoom_defender import zoom_limits

from .config import SandboxConfig
from .sandbox import Sandbox


def _positive_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _scopes(text: str) -> tuple[str, ...]:
    return tuple(scope for scope in text.replace(",", " ").split() if scope)


def _utc(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def build_parser() -> argparse.ArgumentParser:
    """Describe every option (``zoom-sandbox --help``)."""
    d = SandboxConfig()
    p = argparse.ArgumentParser(
        prog="zoom-sandbox",
        description=(
            "A local emulator of Zoom's REST API (users, sign-in activity report, operation "
            "logs, OAuth) with Zoom's rate limits, paging rules and injectable faults. Prints "
            "its base URL and the demo credentials it accepts, then serves until Ctrl-C."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    g = p.add_argument_group("account and data")
    g.add_argument("--plan", choices=zoom_limits.PLANS, default=d.plan, help="Zoom plan")
    g.add_argument("--users", type=int, default=d.users, help="number of users")
    g.add_argument("--days", type=int, default=d.days, help="days of history before now")
    g.add_argument("--seed", type=int, default=d.seed, help="random seed (same seed, same data)")
    g.add_argument(
        "--events-per-user-day",
        type=_positive_float,
        default=d.events_per_user_day,
        help="mean sign-in/sign-out events per active user per day",
    )
    g.add_argument(
        "--operation-logs-per-day",
        type=_positive_float,
        default=d.operation_logs_per_day,
        help="mean admin operation-log entries per day",
    )
    g.add_argument(
        "--live",
        action="store_true",
        help="keep the clock running so new events (and late arrivals) keep appearing",
    )
    g.add_argument("--now", type=_utc, help="pretend the server starts at this UTC time")
    g.add_argument(
        "--clock-speed",
        type=float,
        default=d.clock_speed,
        help="sandbox seconds per real second (live mode, token expiry)",
    )
    g.add_argument(
        "--late-fraction",
        type=_fraction,
        default=d.late_fraction,
        help="share of records that become visible late",
    )
    g.add_argument(
        "--late-min-seconds",
        type=_positive_float,
        default=d.late_min_seconds,
        help="shortest late-arrival delay",
    )
    g.add_argument(
        "--late-max-seconds",
        type=_positive_float,
        default=d.late_max_seconds,
        help="longest late-arrival delay",
    )
    g.add_argument(
        "--cache-records",
        type=int,
        default=d.cache_records,
        help="records of generated days kept in memory (raise it for dense multi-million "
        "accounts so days are not regenerated while being paged)",
    )
    a = p.add_argument_group("auth")
    a.add_argument("--account-id", default=d.account_id, help="accepted account id")
    a.add_argument("--client-id", default=d.client_id, help="accepted client id")
    a.add_argument("--client-secret", default=d.client_secret, help="accepted client secret")
    a.add_argument(
        "--token-ttl", type=_positive_float, default=d.token_ttl, help="access-token lifetime (s)"
    )
    a.add_argument(
        "--redirect-uri",
        default=d.redirect_uri,
        help="the OAuth app's registered redirect URL: the consent page (/oauth/authorize) "
        "refuses any other, and the code exchange must send the same one",
    )
    a.add_argument(
        "--scopes",
        type=_scopes,
        default=d.scopes,
        metavar="SCOPE[,SCOPE...]",
        help="scopes of the app, granted by a consent (and to Server-to-Server tokens); leave "
        "one out to test a missing scope",
    )
    a.add_argument(
        "--auth-code-ttl",
        type=_positive_float,
        default=d.auth_code_ttl,
        help="lifetime of an authorization code from the consent page (s)",
    )
    a.add_argument(
        "--page-token-ttl",
        type=_positive_float,
        default=d.page_token_ttl,
        help="next_page_token lifetime (s)",
    )
    r = p.add_argument_group("rate limits")
    r.add_argument(
        "--daily-quota",
        type=int,
        help="requests/day of each daily pool; None = the plan's (30000 Heavy+RI on Pro)",
    )
    r.add_argument(
        "--no-rate-limits",
        action="store_true",
        help="accept any request rate (an explicit --daily-quota still applies)",
    )
    r.add_argument(
        "--rate-limit",
        action="append",
        default=[],
        metavar="CATEGORY=PER_SECOND",
        help="override one category's per-second limit, e.g. Heavy=2 (repeatable)",
    )
    f = p.add_argument_group("faults (applied to every endpoint)")
    f.add_argument("--latency", type=_positive_float, default=0.0, help="added latency (s)")
    f.add_argument(
        "--latency-jitter", type=_positive_float, default=0.0, help="extra random latency (s)"
    )
    f.add_argument("--error-rate", type=_fraction, default=0.0, help="share of 5xx answers")
    f.add_argument(
        "--bare-429-rate", type=_fraction, default=0.0, help="share of 429s without headers"
    )
    f.add_argument("--drop-rate", type=_fraction, default=0.0, help="share of dropped connections")
    f.add_argument(
        "--truncate-rate", type=_fraction, default=0.0, help="share of truncated JSON bodies"
    )
    f.add_argument(
        "--malformed-rate", type=_fraction, default=0.0, help="share of malformed JSON bodies"
    )
    f.add_argument(
        "--short-page-rate",
        type=_fraction,
        default=0.0,
        help="share of pages cut short while more pages follow",
    )
    f.add_argument(
        "--slow-rate",
        type=_fraction,
        default=0.0,
        help="share of responses held back --slow-seconds (beyond a client timeout)",
    )
    f.add_argument(
        "--slow-seconds", type=_positive_float, default=30.0, help="delay of a slow response (s)"
    )
    f.add_argument(
        "--page-token-expiry-rate",
        type=_fraction,
        default=0.0,
        help="share of next_page_token uses answered as expired",
    )
    f.add_argument(
        "--revoke-after",
        type=int,
        help="revoke every access token after this many authorised API requests (once)",
    )
    n = p.add_argument_group("network")
    n.add_argument("--host", default=d.host, help="address to bind")
    n.add_argument("--port", type=int, default=8080, help="port to bind (0 = any free port)")
    n.add_argument(
        "--url-file",
        type=Path,
        help="write the base URL, API/OAuth URLs and demo credentials (and a fresh refresh "
        "token) to this JSON file once listening",
    )
    return p


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """Turn parsed options into a SandboxConfig."""
    overrides: dict[str, float] = {}
    for item in args.rate_limit:
        name, _, value = item.partition("=")
        if name not in zoom_limits.CATEGORIES:
            raise ValueError(
                f"--rate-limit {item}: category must be one of {', '.join(zoom_limits.CATEGORIES)}"
            )
        overrides[name] = float(value)
    faults = {
        "latency": args.latency,
        "latency_jitter": args.latency_jitter,
        "error_rate": args.error_rate,
        "bare_429_rate": args.bare_429_rate,
        "drop_rate": args.drop_rate,
        "truncate_rate": args.truncate_rate,
        "malformed_rate": args.malformed_rate,
        "short_page_rate": args.short_page_rate,
        "slow_rate": args.slow_rate,
        "page_token_expiry_rate": args.page_token_expiry_rate,
        "revoke_after": args.revoke_after,
    }
    return SandboxConfig(
        plan=args.plan,
        users=args.users,
        days=args.days,
        seed=args.seed,
        events_per_user_day=args.events_per_user_day,
        operation_logs_per_day=args.operation_logs_per_day,
        live=args.live,
        now=args.now,
        clock_speed=args.clock_speed,
        late_fraction=args.late_fraction,
        late_min_seconds=args.late_min_seconds,
        late_max_seconds=args.late_max_seconds,
        cache_records=args.cache_records,
        account_id=args.account_id,
        client_id=args.client_id,
        client_secret=args.client_secret,
        token_ttl=args.token_ttl,
        auth_code_ttl=args.auth_code_ttl,
        redirect_uri=args.redirect_uri,
        scopes=args.scopes,
        page_token_ttl=args.page_token_ttl,
        daily_quota=args.daily_quota,
        rate_limits=not args.no_rate_limits,
        rate_limits_per_second=overrides or None,
        host=args.host,
        port=args.port,
        faults={"*": {**faults, "slow_seconds": args.slow_seconds}} if any(faults.values()) else {},
    )


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT/SIGTERM; exit 0 on a clean stop, 2 on bad options."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cfg = config_from_args(args)
        sb = Sandbox(cfg).start()
    except ValueError as exc:
        print(f"zoom-sandbox: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"zoom-sandbox: error: cannot listen on {args.host}:{args.port}: {exc.strerror} "
            "(choose another --port, or --port 0 for any free port)",
            file=sys.stderr,
        )
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    info = {
        "base_url": sb.base_url,
        "api_url": sb.api_url,
        "oauth_url": sb.oauth_url,
        "authorize_url": sb.authorize_url,
        "redirect_uri": cfg.redirect_uri,
        "scopes": list(cfg.scopes),
        "account_id": sb.account_id,
        "client_id": sb.client_id,
        "client_secret": sb.client_secret,
        "refresh_token": sb.issue_refresh_token(),
        "plan": cfg.plan,
        "pid": os.getpid(),
    }
    if args.url_file:
        tmp = args.url_file.with_suffix(args.url_file.suffix + ".tmp")
        tmp.write_text(json.dumps(info, indent=2) + "\n")
        tmp.replace(args.url_file)  # atomic: readers never see half a file
    print(f"Zoom sandbox ({cfg.plan}, {cfg.users} users, {cfg.days} days, seed {cfg.seed})")
    print(f"  Base URL: {sb.base_url}")
    print(f"  API:    {sb.api_url}")
    print(f"  OAuth:  {sb.oauth_url}")
    print(f"  Consent: {sb.authorize_url} (redirect {cfg.redirect_uri})")
    print(f"  Scopes: {' '.join(cfg.scopes)}")
    print(f"  account_id={sb.account_id}  client_id={sb.client_id}")
    print(f"  client_secret={sb.client_secret}  (demo credentials, not real ones)")
    print("Ctrl-C to stop.", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sb.stop()
    print("zoom-sandbox stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
