"""The Logs Ingestion API's documented limits ("Azure Monitor service limits", Logs Ingestion API).

| Limit | Value |
|---|---|
| Maximum size of API call | 1 MB, both compressed and uncompressed data (-> 413) |
| Maximum size for field values | 64 KB; longer fields are truncated (``workspace.py``) |
| Maximum data/minute per DCR | 2 GB, both compressed and uncompressed; retry after the
  ``Retry-After`` header (-> 429) |
| Maximum requests/minute per DCR | 12,000; retry after the ``Retry-After`` header (-> 429) |

"1 MB" is 1,048,576 bytes here: the service's own 413 says "Maximum allowed content length:
1048576 bytes (1 MB)" (quoted in JulianHayward/AzADServicePrincipalInsights issue 30). The
per-minute limits are counted over a sliding window per DCR; the window and both limits are
configurable so tests can reach them quickly.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

MAX_CALL_BYTES = 1_048_576
REQUESTS_PER_WINDOW = 12_000
BYTES_PER_WINDOW = 2 * 1024**3
WINDOW_SECONDS = 60.0


class RateLimiter:
    """Sliding-window request and byte counts per DCR; answers a Retry-After when over."""

    def __init__(
        self,
        requests: int = REQUESTS_PER_WINDOW,
        data_bytes: int = BYTES_PER_WINDOW,
        window: float = WINDOW_SECONDS,
    ) -> None:
        """Allow ``requests`` calls and ``data_bytes`` body bytes per ``window`` seconds."""
        self.requests = requests
        self.data_bytes = data_bytes
        self.window = window
        self._log: dict[str, deque[tuple[float, int]]] = {}
        self._lock = threading.Lock()

    def admit(self, dcr_id: str, body_bytes: int, now: float | None = None) -> int | None:
        """Count the call and return None, or return Retry-After seconds (call not counted)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            log = self._log.setdefault(dcr_id, deque())
            while log and log[0][0] <= now - self.window:
                log.popleft()
            over_requests = len(log) >= self.requests
            over_bytes = sum(n for _, n in log) + body_bytes > self.data_bytes and bool(log)
            if over_requests or over_bytes:
                wait = log[0][0] + self.window - now
                if over_bytes and not over_requests:  # until enough bytes have left the window
                    total = sum(n for _, n in log) + body_bytes
                    for at, size in log:
                        total -= size
                        if total <= self.data_bytes:
                            wait = at + self.window - now
                            break
                return max(1, math.ceil(wait))
            log.append((now, body_bytes))
            return None

    def reset(self) -> None:
        """Forget every counted call."""
        with self._lock:
            self._log.clear()
