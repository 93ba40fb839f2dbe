"""Metrics: one Embedded Metric Format record per `emit`, written at once to the functions' log stream."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnitError

from docintake import metrics

SERVICE_LOGGER = "docintake-metrics-test"


@pytest.fixture
def log_stream(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The functions' log handler's stream, as the local stack and Lambda set it up (here a buffer)."""
    for variable in ("POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_DEV", "POWERTOOLS_METRICS_NAMESPACE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", SERVICE_LOGGER)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger(SERVICE_LOGGER)
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


def _records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_metric_is_one_emf_record_with_namespace_unit_value_and_service_plus_its_dimension(
    log_stream: io.StringIO,
) -> None:
    before = int(time.time() * 1000)
    # WHEN a stage reports its duration
    metrics.emit("StageDuration", 12.5, unit="Milliseconds", dimensions={"stage": "parse"})
    # THEN the log stream holds one EMF record CloudWatch can extract
    [record] = _records(log_stream)
    [definition] = record["_aws"]["CloudWatchMetrics"]
    assert definition["Namespace"] == "docintake"
    assert definition["Metrics"] == [{"Name": "StageDuration", "Unit": "Milliseconds"}]
    [dimension_set] = definition["Dimensions"]
    assert sorted(dimension_set) == ["service", "stage"]  # one set: by stage within the service
    assert record["service"] == SERVICE_LOGGER and record["stage"] == "parse"
    assert record["StageDuration"] == [12.5]
    assert before <= record["_aws"]["Timestamp"] <= int(time.time() * 1000)


def test_each_call_is_written_at_once_and_its_dimensions_do_not_carry_over(log_stream: io.StringIO) -> None:
    # GIVEN a Powertools Metrics elsewhere holding a metric it has not flushed yet
    shared = Metrics(namespace="elsewhere", service="elsewhere")
    shared.add_metric(name="Pending", unit="Count", value=1)
    try:
        # WHEN two metrics are emitted, the first with a dimension, the second without
        metrics.emit("DocumentsFailed", 1, dimensions={"error_code": "corrupt_pdf"})
        assert len(_records(log_stream)) == 1  # written before the next call, no flush needed
        metrics.emit("DocumentsReady", 1)
        # THEN the second record has only the service dimension, both count one, and the pending metric is
        # neither written nor lost
        first, second = _records(log_stream)
        assert first["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "DocumentsFailed", "Unit": "Count"}]
        assert (first["error_code"], first["DocumentsFailed"]) == ("corrupt_pdf", [1.0])
        assert second["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
        assert "error_code" not in second and second["DocumentsReady"] == [1.0]
        assert "Pending" not in first and "Pending" not in second
        assert list(shared.metric_set) == ["Pending"]
    finally:
        shared.clear_metrics()


@pytest.mark.parametrize("disabled", ["true", "1", "TRUE"])
def test_powertools_metrics_disabled_writes_nothing(
    log_stream: io.StringIO, monkeypatch: pytest.MonkeyPatch, disabled: str
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", disabled)
    metrics.emit("Retries", 1, dimensions={"stage": "chunk"})
    assert log_stream.getvalue() == ""


def test_namespace_and_service_come_from_the_powertools_environment(
    log_stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "docintake-staging")
    metrics.emit("DLQSends", 1, dimensions={"stage": "embed"})
    [record] = _records(log_stream)
    assert record["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "docintake-staging"
    assert record["service"] == SERVICE_LOGGER


def test_a_unit_cloudwatch_does_not_know_is_refused_and_nothing_is_written(log_stream: io.StringIO) -> None:
    with pytest.raises(MetricUnitError):
        metrics.emit("StageDuration", 3, unit="Fortnights", dimensions={"stage": "parse"})
    assert log_stream.getvalue() == ""


def test_without_a_log_handler_the_record_goes_to_stdout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a service whose logger has no handler (a Lambda before its Logger exists)
    for variable in ("POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_DEV", "POWERTOOLS_METRICS_NAMESPACE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "docintake-metrics-test-no-handler")
    # WHEN a metric is emitted
    metrics.emit("StageCompleted", 1, dimensions={"stage": "validate"})
    # THEN stdout, where Lambda's runtime sends it to CloudWatch, holds the record
    [line] = capsys.readouterr().out.splitlines()
    record = json.loads(line)
    assert record["StageCompleted"] == [1.0] and record["stage"] == "validate"
    assert record["service"] == "docintake-metrics-test-no-handler"
