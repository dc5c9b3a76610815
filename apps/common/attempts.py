"""Limits on guessing: admin sign-ins and API tokens, counted per subject in a fixed window.

Counted in Redis by the shared fixed-window counter (`ratelimit:{scope}:{digest of the subject}`), so
every process shares one count. While Redis is unreachable the count falls back to this process's
memory: the limit then holds per process instead of not at all, and the admin stays usable.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

from .redis import full_key, window_hit


@dataclass(frozen=True)
class AttemptDecision:
    allowed: bool
    retry_after: int  # seconds until the window ends, when refused


class _LocalWindows:
    """Fixed-window counters in process memory, for while Redis cannot count."""

    MAX_KEYS = 10_000  # a flood of distinct subjects cannot grow this without bound

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = {}

    def hit(self, key: str, *, limit: int, window: int) -> AttemptDecision:
        now = time.time()
        start = int(now // window) * window
        with self._lock:
            if len(self._counts) >= self.MAX_KEYS:
                self._counts = {k: v for k, v in self._counts.items() if k[1] + window > now}
                if len(self._counts) >= self.MAX_KEYS:
                    self._counts.clear()
            count = self._counts.get((key, start), 0) + 1
            self._counts[(key, start)] = count
        if count <= limit:
            return AttemptDecision(allowed=True, retry_after=0)
        return AttemptDecision(allowed=False, retry_after=max(1, int(start + window - now)))

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


local_windows = _LocalWindows()


def subject_digest(subject: str) -> str:
    """Usernames and addresses become fixed-length hex in key names (no spaces, nothing readable)."""
    return hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def attempt_hit(*, scope: str, subject: str, limit: int, window: int) -> AttemptDecision:
    """Count one attempt of `subject` in `scope`; refused once the window holds more than `limit`."""
    digest = subject_digest(subject)
    decision = window_hit(
        key=full_key(f"ratelimit:{scope}:{digest}"), limit=limit, window=window, operation="attempt_hit"
    )
    if decision.count is None:  # Redis unreachable: count here rather than not at all
        return local_windows.hit(f"{scope}:{digest}", limit=limit, window=window)
    return AttemptDecision(allowed=decision.allowed, retry_after=decision.retry_after)


def client_address(request) -> str:
    """The peer's address. Behind a reverse proxy every client shares the proxy's address; the
    per-username limit still holds (docs/reliability.md)."""
    return request.META.get("REMOTE_ADDR") or "unknown"
