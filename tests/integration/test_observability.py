"""Logs carry the job's correlation id in every function; metrics come out in Embedded Metric Format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from docintake.errors import DependencyUnavailable
from docintake.jobs import STEPS, process_stage_message
from docintake_local.stack import LocalStack
from tests.kit import ingest, job_row, parse_delivery

pytestmark = pytest.mark.integration


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("{")]


def _metrics(lines: list[dict[str, Any]]) -> list[tuple[str, float, dict[str, str]]]:
    found = []
    for line in lines:
        if "_aws" not in line:
            continue
        [definition] = line["_aws"]["CloudWatchMetrics"]
        assert definition["Namespace"] == "docintake"
        [metric] = definition["Metrics"]  # one metric per record, written when it happens
        name = metric["Name"]
        assert metric["Unit"] == ("Milliseconds" if name == "StageDuration" else "Count")
        [dimension_set] = definition["Dimensions"]  # service and the named dimension together, one set
        assert "service" in dimension_set and line["service"] == "docintake"
        dimensions = {d: line[d] for d in dimension_set if d != "service"}
        [value] = line[name]  # Powertools writes a metric's values as a list
        found.append((name, value, dimensions))
    return found


def test_every_functions_log_lines_carry_the_jobs_correlation_id(stack: LocalStack, tmp_path: Path) -> None:
    document_id = ingest(stack)
    job = job_row(stack, "correlation_id")
    lines = [line for line in _lines(tmp_path / "functions.jsonl") if line.get("document_id") == str(document_id)]
    functions = {line["function_name"] for line in lines}
    assert functions == {"UploadFunction", "ValidateFunction", "ParseFunction", "ChunkFunction", "EmbedFunction"}
    assert {line["correlation_id"] for line in lines} == {job["correlation_id"]}
    assert all(line["service"] == "docintake" and "function_request_id" in line for line in lines)


def test_stages_emit_duration_throughput_readiness_failures_and_retries(stack: LocalStack, tmp_path: Path) -> None:
    # GIVEN one parse that hits a transient error, one document that finishes, one PDF that fails
    pipeline, delivery = parse_delivery(stack, receive_count=1)

    def unavailable(claim: Any) -> Any:
        raise DependencyUnavailable("S3 unreachable", code="s3_unavailable")

    with pytest.raises(DependencyUnavailable):
        process_stage_message(pipeline, STEPS["parse"], delivery, unavailable)
    # (its redelivery is not part of this test)
    stack.client("sqs").delete_message(QueueUrl=stack.queue_urls["ParseQueue"], ReceiptHandle=delivery.receipt_handle)
    ingest(stack)
    ingest(stack, b"%PDF-1.7\nnot a pdf\n%%EOF", "broken.pdf", "application/pdf")
    # THEN the log file holds EMF records for each
    metrics = _metrics(_lines(tmp_path / "functions.jsonl"))
    durations = {dims["stage"]: value for name, value, dims in metrics if name == "StageDuration"}
    assert set(durations) == {"parse", "chunk", "embed"} and all(v >= 0 for v in durations.values())
    completed = sorted(dims["stage"] for name, _, dims in metrics if name == "StageCompleted")
    assert completed == ["chunk", "embed", "parse", "validate", "validate", "validate"]
    assert [(n, v) for n, v, _ in metrics if n == "DocumentsReady"] == [("DocumentsReady", 1)]
    assert [d for n, _, d in metrics if n == "DocumentsFailed"] == [{"error_code": "corrupt_pdf"}]
    assert [d for n, _, d in metrics if n == "Retries"] == [{"stage": "parse"}]
