"""``/_sandbox/...``: test controls over HTTP, for a sandbox running in another process.

Benchmarks and scripts that start ``zoom-sandbox`` as a subprocess (so it does not share a GIL
with the tap) still need the ground truth, the request log and the clock. These routes are not
part of Zoom's API, are never rate limited and never appear in the request log.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

from .endpoints import Reply, zoom_error

if TYPE_CHECKING:
    from .sandbox import Sandbox

PREFIX = "/_sandbox/"


def _json(data: object) -> Reply:
    return Reply(200, json.dumps(data).encode())


def handle_control(
    sb: Sandbox, method: str, path: str, query: dict[str, list[str]], body: bytes
) -> Reply:
    """Answer one control request (see the module docstring for why they exist)."""
    name = path[len(PREFIX) :]
    arg = {k: v[-1] for k, v in query.items()}
    try:
        if method == "GET" and name == "ground_truth":
            records = sb.ground_truth(arg.get("stream", ""), arg.get("start"), arg.get("end"))
            return _json({"records": records})
        if method == "GET" and name == "request_log":
            since = float(arg.get("since", "0"))
            return _json({"entries": [asdict(e) for e in sb.request_log if e.t >= since]})
        if method == "GET" and name == "status":
            return _json({"now": sb.now().isoformat(), "daily_used": sb.limits.daily_used()})
        if method == "POST" and name == "advance_clock":
            sb.advance_clock(float(arg.get("seconds", "0")))
            return _json({"now": sb.now().isoformat()})
        if method == "POST" and name == "refresh_token":  # as if an admin consented again
            return _json({"refresh_token": sb.issue_refresh_token()})
        if method == "POST" and name == "revoke_access_tokens":
            sb.revoke_access_tokens()
            return _json({"revoked": True})
        if method == "POST" and name == "faults":
            spec = json.loads(body or b"{}")
            sb.set_faults(spec.pop("endpoint", None), **spec)
            return _json({"faults": "set"})
        if method == "DELETE" and name == "faults":
            sb.clear_faults()
            return _json({"faults": "cleared"})
    except (ValueError, TypeError) as exc:
        return zoom_error(400, 300, f"{name}: {exc}")
    return zoom_error(404, 404, f"No such sandbox control: {method} {path}")
