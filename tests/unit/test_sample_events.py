"""events/ holds one sample event per function in template.yaml, named for it, of its trigger's shape.

The mapping is a rule, kept here and in events/README.md: ``ParseFunction`` → ``events/parse.json``."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from docintake_local.template import function_properties, load_template, resources_of_type

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
TEMPLATE = load_template(ROOT / "template.yaml")
FUNCTIONS = list(resources_of_type(TEMPLATE, "AWS::Serverless::Function"))  # in the template's order
NOT_AN_EVENT = {"env.json"}  # the `--env-vars` file


def event_file(function: str) -> Path:
    """The sample event of a function: its logical id without "Function", in lower case."""
    return EVENTS / f"{function.removesuffix('Function').lower()}.json"


def _triggers(function: str) -> list[tuple[str, dict[str, Any]]]:
    events = function_properties(TEMPLATE, function).get("Events", {})
    return [(spec["Type"], spec.get("Properties", {})) for spec in events.values()]


def test_every_function_in_the_template_has_its_event_and_every_event_a_function() -> None:
    assert len(FUNCTIONS) >= 8
    missing = [function for function in FUNCTIONS if not event_file(function).is_file()]
    assert missing == []
    orphans = {p.name for p in EVENTS.glob("*.json")} - NOT_AN_EVENT - {event_file(f).name for f in FUNCTIONS}
    assert orphans == set()


def test_the_events_readme_lists_every_function_with_its_event() -> None:
    readme = (EVENTS / "README.md").read_text(encoding="utf-8")
    for function in FUNCTIONS:
        assert f"| `{function}` " in readme and f"`events/{event_file(function).name}`" in readme, function


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_event_has_the_shape_of_its_functions_trigger(function: str) -> None:
    event = json.loads(event_file(function).read_text(encoding="utf-8"))
    [kind] = {kind for kind, _ in _triggers(function)}  # one kind of trigger per function
    if kind == "HttpApi":
        routes = {f"{props['Method']} {props['Path']}" for _, props in _triggers(function)}
        assert event["version"] == "2.0" and event["routeKey"] in routes
        assert event["requestContext"]["routeKey"] == event["routeKey"]
        http = event["requestContext"]["http"]
        assert f"{http['method']} {http['path']}" == event["routeKey"] == f"{http['method']} {event['rawPath']}"
        uuid.UUID(event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"])  # the caller, as the API reads it
    elif kind == "S3":
        [(_, props)] = _triggers(function)
        [rule] = props["Filter"]["S3Key"]["Rules"]
        for record in event["Records"]:
            assert record["eventSource"] == "aws:s3" and record["eventName"].startswith("ObjectCreated:")
            assert record["s3"]["object"]["key"].startswith(rule["Value"])
    elif kind == "SQS":
        [(_, props)] = _triggers(function)
        queue = props["Queue"]["Fn::GetAtt"][0]
        stage = function.removesuffix("Function").lower()
        assert queue == f"{stage.capitalize()}Queue"
        assert 1 <= len(event["Records"]) <= props["BatchSize"]
        for record in event["Records"]:
            assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"].endswith(f"-{stage}")
            assert json.loads(record["body"])["stage"] == stage
    elif kind == "Schedule":
        assert (event["source"], event["detail-type"], event["detail"]) == ("aws.events", "Scheduled Event", {})
    else:
        pytest.fail(f"{function}: no sample-event shape known for a {kind} trigger")
