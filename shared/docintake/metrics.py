"""CloudWatch metrics in Embedded Metric Format: one JSON line per metric, written where the function's log
lines go (stdout on Lambda, where CloudWatch extracts them; the local log file on this machine).

Metrics (namespace ``docintake``, dimension ``service`` plus the one named):

- ``StageDuration`` (ms, by ``stage``) and ``StageCompleted`` (count, by ``stage``): throughput and latency;
- ``DocumentsReady`` (count): documents whose vectors were swapped in;
- ``DocumentsFailed`` (count, by ``error_code``): jobs failed, dead-lettered or rejected at upload;
- ``Retries`` (count, by ``stage``): attempts that will be retried after their backoff;
- ``DLQSends`` (count, by ``stage``): messages headed for a dead-letter queue.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any, TextIO

NAMESPACE = "docintake"
SERVICE = "docintake"
_UNITS = {"Count", "Milliseconds", "Seconds"}


def emit(name: str, value: float, *, unit: str = "Count", dimensions: dict[str, str] | None = None) -> None:
    """Writes one EMF record. Dimension values are codes and stage names only, never user data."""
    if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() in ("1", "true"):
        return
    if unit not in _UNITS:
        raise ValueError(f"unit {unit} is not one of {sorted(_UNITS)}")
    dims = {"service": os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE), **(dimensions or {})}
    record: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE),
                    "Dimensions": [sorted(dims)],
                    "Metrics": [{"Name": name, "Unit": unit}],
                }
            ],
        },
        name: value,
        **dims,
    }
    stream = _stream()
    stream.write(json.dumps(record, separators=(",", ":")) + "\n")
    stream.flush()


def _stream() -> TextIO:
    """The stream of the functions' log handler (redirected to a file locally), else stdout."""
    for handler in logging.getLogger(os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE)).handlers:
        if isinstance(handler, logging.StreamHandler):
            return handler.stream  # type: ignore[no-any-return]
    return sys.stdout
