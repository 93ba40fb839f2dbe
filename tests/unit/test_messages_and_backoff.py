"""Queue bodies are validated at the edge; retries back off 3 s × 2^(attempt−1), capped at 300 s."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from docintake.errors import InvalidMessage, PermanentError
from docintake.messages import StageMessage
from docintake.queues import backoff_seconds
from tests.kit import event


def _sample(name: str, **changes: object) -> str:
    """The body of events/{name}.json, the message the previous stage sends, with some fields changed."""
    body = json.loads(event(name)["Records"][0]["body"])
    return json.dumps({**body, **changes})


def test_a_stage_message_round_trips() -> None:
    message = StageMessage(
        job_id=uuid.uuid4(),
        document_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        stage="chunk",
        correlation_id="c-1",
    )
    assert StageMessage.parse_body(message.model_dump_json()) == message
    assert json.loads(message.model_dump_json())["version"] == 1


@pytest.mark.parametrize("stage", ["parse", "chunk", "embed"])
def test_the_sample_events_bodies_are_valid_stage_messages(stage: str) -> None:
    # GIVEN the body of the stage's sample event  WHEN it is parsed at the edge  THEN it is that stage's message
    message = StageMessage.parse_body(_sample(stage))
    assert message.stage == stage
    assert StageMessage.parse_body(message.model_dump_json()) == message


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "{}",
        _sample("parse", job_id="x", document_id="y", user_id="z"),
        _sample("parse", stage="explode"),
        _sample("chunk", version=2),
    ],
    ids=["not_json", "empty", "ids_not_uuids", "unknown_stage", "unknown_version"],
)
def test_invalid_bodies_are_permanent_errors_with_a_code(body: str) -> None:
    # WHEN an invalid body is parsed
    with pytest.raises(PermanentError) as caught:
        StageMessage.parse_body(body)
    # THEN it is the invalid-message error (dead-lettered, never retried), not a bare permanent or validation error
    assert type(caught.value) is InvalidMessage
    assert caught.value.code == "bad_message"
    # AND its text counts the errors and quotes nothing from the body
    assert re.fullmatch(r"invalid stage message: [1-9]\d* error\(s\)", str(caught.value))


def test_backoff_doubles_from_three_seconds_and_caps_at_five_minutes() -> None:
    assert [backoff_seconds(n) for n in range(1, 9)] == [3, 6, 12, 24, 48, 96, 192, 300]
    assert backoff_seconds(30) == 300
