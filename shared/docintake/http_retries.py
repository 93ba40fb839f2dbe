"""Retries of calls to HTTP providers (LlamaParse, OpenAI-compatible APIs, Bedrock): attempts, backoff and
the server's own Retry-After. The queue's redelivery is the retry after these run out."""

from __future__ import annotations

import email.utils
import math
from datetime import UTC, datetime

MAX_ATTEMPTS = 4
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 30.0
RETRY_AFTER_CAP_SECONDS = 60.0


def backoff_seconds(attempt: int) -> float:
    """1 s, 2 s, 4 s, … capped at 30 s, after the attempt that just failed (1-based)."""
    return min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2.0 ** max(0, attempt - 1))


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """A Retry-After header (delay-seconds or HTTP-date) as seconds from now, within 0–60 s; None if unusable."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value.strip())
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(RETRY_AFTER_CAP_SECONDS, max(0.0, seconds))
