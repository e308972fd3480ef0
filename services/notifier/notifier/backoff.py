"""Retry timing: exponential backoff with full jitter, and how each attempt's result is read.

Full jitter (a uniform delay between 0 and the exponential ceiling) spreads retries from many
deliveries so a recovering endpoint is not hit by all of them at once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from notifier.config import Retry

if TYPE_CHECKING:
    from notifier.oauth2 import TokenError

# Retrying these can succeed; any other 4xx means the request itself is refused and would be again.
RETRYABLE_STATUS = frozenset({408, 425, 429})


def backoff_s(
    failed_attempts: int, retry: Retry, rng: random.Random, retry_after_s: float | None = None
) -> float:
    """Seconds to wait after ``failed_attempts`` (>= 1) failures; honours a Retry-After up to the cap."""
    ceiling = min(retry.cap_s, retry.base_s * 2 ** (failed_attempts - 1))
    delay = rng.uniform(0, ceiling)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, retry.cap_s))
    return delay


@dataclass(frozen=True)
class AttemptResult:
    result: str  # metric label: success | http_4xx | http_5xx | timeout | connection_error | token_error
    delivered: bool
    retryable: bool
    error: str = ""
    retry_after_s: float | None = None


def from_status(status: int, retry_after: str | None = None) -> AttemptResult:
    if 200 <= status < 300:
        return AttemptResult("success", True, False)
    wait = float(retry_after) if retry_after and retry_after.strip().isdigit() else None
    if status >= 500 or status in RETRYABLE_STATUS:
        label = "http_5xx" if status >= 500 else "http_4xx"
        return AttemptResult(label, False, True, f"HTTP {status}", wait)
    return AttemptResult("http_4xx", False, False, f"HTTP {status} (refused; not retried)")


def timed_out(timeout_s: float) -> AttemptResult:
    return AttemptResult("timeout", False, True, f"no answer within {timeout_s:g}s")


def unreachable(error: BaseException) -> AttemptResult:
    return AttemptResult("connection_error", False, True, f"{type(error).__name__}: {error}"[:300])


def no_token(error: TokenError) -> AttemptResult:
    """The endpoint's OAuth2 token could not be obtained: nothing was sent; retried like an unreachable
    endpoint (the token endpoint, or the client's registration there, may be put right)."""
    return AttemptResult("token_error", False, True, f"OAuth2 token: {error}"[:300])


def refused_again() -> AttemptResult:
    """401 again with a token fetched just now: the endpoint does not accept this client."""
    return AttemptResult("http_4xx", False, False, "HTTP 401 with a new OAuth2 token (refused; not retried)")
