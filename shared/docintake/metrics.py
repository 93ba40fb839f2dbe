"""CloudWatch metrics through Powertools' Embedded Metric Format provider: one EMF record per call, written
where the function's log lines go (stdout on Lambda, where CloudWatch extracts them; the local log file on
this machine, stderr for the operators' CLI).

Metrics (namespace ``docintake``, dimension ``service`` plus the one named):

- ``StageDuration`` (ms, by ``stage``) and ``StageCompleted`` (count, by ``stage``): throughput and latency;
- ``DocumentsReady`` (count): documents whose vectors were swapped in;
- ``DocumentsFailed`` (count, by ``error_code``): jobs failed, dead-lettered or rejected at upload;
- ``Retries`` (count, by ``stage``): attempts that will be retried after their backoff;
- ``DLQSends`` (count, by ``stage``): messages headed for a dead-letter queue.

``POWERTOOLS_METRICS_DISABLED`` (and ``POWERTOOLS_DEV`` without it) turn them off, as Powertools reads them;
``POWERTOOLS_METRICS_NAMESPACE`` and ``POWERTOOLS_SERVICE_NAME`` override the namespace and service.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import TextIO

from aws_lambda_powertools.metrics import EphemeralMetrics
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

NAMESPACE = "docintake"
SERVICE = "docintake"


def emit(name: str, value: float, *, unit: str = "Count", dimensions: dict[str, str] | None = None) -> None:
    """Writes one EMF record now. Dimension values are codes and stage names only, never user data.

    Each call gets its own EphemeralMetrics (no state shared between calls or with a `Metrics` elsewhere), so
    the dimensions of one record never leak into the next; the record is written here rather than by
    Powertools' flush, which prints to stdout, where locally the CLI's JSON answer goes."""
    if is_metrics_disabled():
        return
    record = EphemeralMetrics(
        namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE),
        service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE),
    )
    record.add_metric(name=name, unit=unit, value=value)  # raises MetricUnitError for a unit CloudWatch lacks
    for dimension, dimension_value in (dimensions or {}).items():
        # add_dimension, not add_dimensions: the latter starts a second dimension set, a second metric
        record.add_dimension(name=dimension, value=dimension_value)
    stream = _stream()
    stream.write(json.dumps(record.serialize_metric_set(), separators=(",", ":")) + "\n")
    stream.flush()


def _stream() -> TextIO:
    """The stream of the functions' log handler (redirected to a file locally), else stdout."""
    for handler in logging.getLogger(os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE)).handlers:
        if isinstance(handler, logging.StreamHandler):
            stream: TextIO = handler.stream
            return stream
    return sys.stdout
