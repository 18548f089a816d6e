"""Count requests the way Zoom limits them: a sliding window, not calendar seconds."""

from __future__ import annotations


def max_in_any_window(times: list[float], width: float = 1.0) -> int:
    """Most entries inside any half-open window [t, t + width): the sliding count Zoom applies."""
    times = sorted(times)
    best, first = 0, 0
    for last, t in enumerate(times):
        while times[first] <= t - width:
            first += 1
        best = max(best, last - first + 1)
    return best
