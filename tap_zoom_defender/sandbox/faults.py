"""Seeded fault injection: the unpleasant things real Zoom (and networks) do to a client."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, fields
from typing import Any

ALL_ENDPOINTS = "*"


@dataclass(frozen=True)
class FaultSpec:
    """Faults for one endpoint (or every endpoint). Rates are probabilities per request.

    At most one of the other faults fires per admitted request, checked in this order: dropped
    connection, 5xx, bare 429, expired page token, slow response, short page, truncated body,
    malformed body. Latency is added to every matching request. ``max_faults`` caps how many
    requests get a fault at all (e.g. ``error_rate=1, max_faults=2``: the next two fail).
    ``revoke_after``: after that many more authorized requests, every access token is revoked.
    """

    latency: float = 0.0
    latency_jitter: float = 0.0
    drop_rate: float = 0.0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503, 504)
    bare_429_rate: float = 0.0
    page_token_expiry_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 30.0
    short_page_rate: float = 0.0
    truncate_rate: float = 0.0
    malformed_rate: float = 0.0
    max_faults: int | None = None
    revoke_after: int | None = None


FAULT_KINDS = (
    ("drop", "drop_rate"),
    ("error", "error_rate"),
    ("bare_429", "bare_429_rate"),
    ("page_token_expiry", "page_token_expiry_rate"),
    ("slow", "slow_rate"),
    ("short_page", "short_page_rate"),
    ("truncate", "truncate_rate"),
    ("malformed", "malformed_rate"),
)
_FIELD_NAMES = {f.name for f in fields(FaultSpec)}


@dataclass(frozen=True)
class FaultPlan:
    """What to do to one request."""

    kind: str | None = None
    status: int = 0
    slow_seconds: float = 0.0
    revoke_now: bool = False


class Faults:
    """Fault specs by endpoint with a seeded random stream and the counters they need."""

    def __init__(self, seed: int) -> None:
        """Start with no faults."""
        self._seed = seed
        self._specs: dict[str, FaultSpec] = {}
        self._injected: dict[str, int] = {}
        self._authorized: dict[str, int] = {}
        self._rng = random.Random(f"{seed}:faults")
        self._lock = threading.Lock()

    def set(self, endpoint: str | None = None, **kwargs: Any) -> None:
        """Replace the spec of ``endpoint`` ("/users", "/report/activities", "/oauth/token"...).

        None means every endpoint; an endpoint's own spec wins over the global one. The random
        stream restarts so the same test sees the same faults every run.
        """
        unknown = set(kwargs) - _FIELD_NAMES
        if unknown:
            raise TypeError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        if "error_statuses" in kwargs:
            kwargs["error_statuses"] = tuple(kwargs["error_statuses"])
        key = _normalise(endpoint)
        with self._lock:
            self._specs[key] = FaultSpec(**kwargs)
            self._injected[key] = 0
            self._authorized[key] = 0
            self._rng = random.Random(f"{self._seed}:faults")

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._specs.clear()
            self._injected.clear()
            self._authorized.clear()

    def latency(self, endpoint: str) -> float:
        """Seconds to hold ``endpoint``'s response back (every request, answered or not)."""
        with self._lock:
            spec = self._spec(endpoint)[1]
            if spec is None:
                return 0.0
            jitter = self._rng.uniform(0, spec.latency_jitter) if spec.latency_jitter else 0.0
            return spec.latency + jitter

    def plan(self, endpoint: str, has_page_token: bool, is_api: bool) -> FaultPlan:
        """Roll the dice for one admitted request to ``endpoint``.

        Called only after authentication and rate limiting, so ``max_faults`` and
        ``revoke_after`` count requests Zoom would really have processed.
        """
        with self._lock:
            key, spec = self._spec(endpoint)
            if spec is None:
                return FaultPlan()
            rng = self._rng
            revoke_now = False
            if is_api and spec.revoke_after is not None:
                self._authorized[key] += 1
                revoke_now = self._authorized[key] == spec.revoke_after
            if spec.max_faults is not None and self._injected[key] >= spec.max_faults:
                return FaultPlan(revoke_now=revoke_now)
            for kind, rate_name in FAULT_KINDS:
                rate = getattr(spec, rate_name)
                if not rate or (kind == "page_token_expiry" and not has_page_token):
                    continue
                if kind in ("short_page", "page_token_expiry") and not is_api:
                    continue
                if rng.random() < rate:
                    self._injected[key] += 1
                    return FaultPlan(
                        kind=kind,
                        status=rng.choice(spec.error_statuses) if kind == "error" else 0,
                        slow_seconds=spec.slow_seconds,
                        revoke_now=revoke_now,
                    )
            return FaultPlan(revoke_now=revoke_now)

    def _spec(self, endpoint: str) -> tuple[str, FaultSpec | None]:
        key = endpoint if endpoint in self._specs else ALL_ENDPOINTS
        return key, self._specs.get(key)

    def short_page_fraction(self) -> float:
        """Pick how much of page_size a 'short page' returns (Heavy endpoints do this)."""
        with self._lock:
            return self._rng.uniform(0.1, 0.9)


def _normalise(endpoint: str | None) -> str:
    if endpoint is None or endpoint == ALL_ENDPOINTS:
        return ALL_ENDPOINTS
    return endpoint[3:] if endpoint.startswith("/v2/") else endpoint
