"""``zoom-sandbox`` with one extra option, ``--cache-records``, for accounts bigger than its cache.

The sandbox keeps generated days in a cache of 300,000 records. A 2,000,000-event week touched by
eight concurrent listings would make it regenerate days on almost every page, so the memory
benchmark would time the emulator instead of the tap. Same options, same ``--url-file``,
same serving code otherwise.

Usage: .venv/bin/python bench/sandbox_server.py --cache-records 3000000 [zoom-sandbox options]
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading

from tap_zoom_defender.sandbox import Sandbox
from tap_zoom_defender.sandbox.cli import build_parser, config_from_args


def main() -> int:
    parser = build_parser()
    parser.add_argument("--cache-records", type=int, default=300_000)
    args = parser.parse_args()
    config = config_from_args(args)
    config.cache_records = args.cache_records
    sb = Sandbox(config).start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    info = {
        "base_url": sb.base_url,
        "api_url": sb.api_url,
        "oauth_url": sb.oauth_url,
        "account_id": sb.account_id,
        "client_id": sb.client_id,
        "client_secret": sb.client_secret,
        "plan": config.plan,
        "pid": os.getpid(),
    }
    if args.url_file:
        tmp = args.url_file.with_suffix(args.url_file.suffix + ".tmp")
        tmp.write_text(json.dumps(info))
        tmp.replace(args.url_file)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sb.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
