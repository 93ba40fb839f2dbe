"""What S3 and SQS failures become where they are caught (storage.py, queues.py): a missing object is permanent,
a denial or an outage is a transient DependencyUnavailable with its code, and the calls made are the ones meant.
botocore's Stubber answers for AWS: no request leaves the process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from docintake.errors import DependencyUnavailable, DocintakeError, PermanentError, TransientError
from docintake.messages import StageMessage
from docintake.queues import delay_redelivery, send_stage_message
from docintake.storage import (
    current_version,
    delete_prefix,
    delete_version,
    first_key_under,
    get_bytes,
    object_exists,
    part_key,
    put_bytes,
    quarantine,
)

BUCKET = "documents"
KEY = "uploads/11111111-1111-4111-8111-111111111111/22222222-2222-4222-8222-222222222222/policy.pdf"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/ParseQueue"


def _client(service: str) -> Any:
    return boto3.client(service, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def s3() -> Iterator[tuple[Any, Stubber]]:
    client = _client("s3")
    with Stubber(client) as stubber:
        yield client, stubber
        # Every answer queued was asked for: the code made exactly the calls the test expects.
        stubber.assert_no_pending_responses()


@pytest.fixture
def sqs() -> Iterator[tuple[Any, Stubber]]:
    client = _client("sqs")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("aws_code", "error", "code"),
    [
        ("NoSuchKey", PermanentError, "object_missing"),
        ("NoSuchVersion", PermanentError, "object_missing"),
        ("AccessDenied", DependencyUnavailable, "s3_access_denied"),
        ("SlowDown", DependencyUnavailable, "s3_unavailable"),
        ("InternalError", DependencyUnavailable, "s3_unavailable"),
    ],
)
def test_an_s3_error_becomes_its_docintake_error(
    s3: tuple[Any, Stubber], aws_code: str, error: type[DocintakeError], code: str
) -> None:
    client, stubber = s3
    # GIVEN S3 answering a read with this error
    stubber.add_client_error("get_object", service_error_code=aws_code, http_status_code=400)
    # WHEN the object is read
    with pytest.raises(error) as caught:
        get_bytes(client, BUCKET, KEY, version_id="v1")
    # THEN it is the error of that kind with its code; only a missing object is permanent
    assert caught.value.code == code
    assert isinstance(caught.value, TransientError) == (error is DependencyUnavailable)
    assert str(caught.value).startswith("get object: ")


def test_s3_out_of_reach_is_s3_unavailable() -> None:
    class Unreachable:
        def put_object(self, **_: Any) -> None:
            raise EndpointConnectionError(endpoint_url="https://s3.us-east-1.amazonaws.com")

    with pytest.raises(DependencyUnavailable) as caught:
        put_bytes(Unreachable(), BUCKET, "derived/x/document.md", b"# Policy", "text/markdown")  # type: ignore[arg-type]
    assert caught.value.code == "s3_unavailable"
    assert str(caught.value) == "put object: S3 unreachable"


def test_an_object_missing_is_answered_false_and_its_version_none(s3: tuple[Any, Stubber]) -> None:
    client, stubber = s3
    # GIVEN an object that is there (version v7), then gone
    stubber.add_response("head_object", {"VersionId": "v7"}, {"Bucket": BUCKET, "Key": KEY})
    stubber.add_response("head_object", {}, {"Bucket": BUCKET, "Key": KEY})
    stubber.add_client_error("head_object", service_error_code="404", http_status_code=404)
    stubber.add_client_error("head_object", service_error_code="404", http_status_code=404)
    # WHEN asked, THEN its version while there, and no version nor existence once gone
    assert current_version(client, BUCKET, KEY) == "v7"
    assert object_exists(client, BUCKET, KEY) is True
    assert current_version(client, BUCKET, KEY) is None
    assert object_exists(client, BUCKET, KEY) is False


def test_a_denied_head_is_not_taken_for_a_missing_object(s3: tuple[Any, Stubber]) -> None:
    client, stubber = s3
    stubber.add_client_error("head_object", service_error_code="403", http_status_code=403)
    with pytest.raises(DependencyUnavailable) as caught:
        object_exists(client, BUCKET, KEY)
    assert caught.value.code == "s3_access_denied"


def test_the_first_key_under_a_prefix_comes_from_a_listing_of_one(s3: tuple[Any, Stubber]) -> None:
    client, stubber = s3
    prefix = KEY.rsplit("/", 1)[0] + "/"
    expected = {"Bucket": BUCKET, "Prefix": prefix, "MaxKeys": 1}
    stubber.add_response("list_objects_v2", {"Contents": [{"Key": KEY}]}, expected)
    stubber.add_response("list_objects_v2", {"KeyCount": 0}, expected)
    assert first_key_under(client, BUCKET, prefix) == KEY
    assert first_key_under(client, BUCKET, prefix) is None


def test_a_version_is_deleted_by_its_id(s3: tuple[Any, Stubber]) -> None:
    client, stubber = s3
    stubber.add_response("delete_object", {}, {"Bucket": BUCKET, "Key": KEY, "VersionId": "v3"})
    delete_version(client, BUCKET, KEY, "v3")


def test_an_unversioned_upload_is_quarantined_with_its_reason_and_removed(s3: tuple[Any, Stubber]) -> None:
    client, stubber = s3
    # GIVEN an upload with no version id (an unversioned bucket)
    target = "quarantine/" + KEY
    stubber.add_response(
        "copy_object",
        {},
        {
            "Bucket": BUCKET,
            "Key": target,
            "CopySource": {"Bucket": BUCKET, "Key": KEY},
            "TaggingDirective": "REPLACE",
            "Tagging": "docintake-quarantine=type_mismatch",
        },
    )
    stubber.add_response("delete_object", {}, {"Bucket": BUCKET, "Key": KEY})
    # WHEN it is quarantined THEN it is copied under quarantine/ tagged with the reason, and the key deleted
    assert quarantine(client, BUCKET, KEY, None, "type_mismatch") == target


def test_a_prefix_whose_objects_are_not_all_deleted_is_s3_unavailable(s3: tuple[Any, Stubber]) -> None:
    client, stubber = s3
    prefix = "derived/u/d/"
    stubber.add_response(
        "list_object_versions",
        {
            "Versions": [{"Key": prefix + "document.md", "VersionId": "a"}],
            "DeleteMarkers": [{"Key": prefix + "pages.json", "VersionId": "b"}],
        },
        {"Bucket": BUCKET, "Prefix": prefix},
    )
    stubber.add_response(
        "delete_objects",
        {"Errors": [{"Key": prefix + "pages.json", "Code": "InternalError", "Message": "try again"}]},
        {
            "Bucket": BUCKET,
            "Delete": {
                "Objects": [
                    {"Key": prefix + "document.md", "VersionId": "a"},
                    {"Key": prefix + "pages.json", "VersionId": "b"},
                ],
                "Quiet": True,
            },
        },
    )
    # WHEN the prefix is deleted and S3 reports an object it could not delete
    with pytest.raises(DependencyUnavailable) as caught:
        delete_prefix(client, BUCKET, prefix)
    # THEN the deletion fails as transient, to be retried, rather than counting what was not removed
    assert caught.value.code == "s3_unavailable"


def test_a_parts_key_sits_under_the_documents_derived_prefix_in_part_order() -> None:
    user, document, job = uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3)
    keys = [part_key(user, document, job, "parse", part) for part in (10, 2, 0)]
    assert keys[2] == f"derived/{user}/{document}/parts/{job}/parse-00000.json"
    # Zero-padded: a listing returns them in part order.
    assert sorted(keys) == list(reversed(keys))


def _message() -> StageMessage:
    return StageMessage(
        job_id=uuid.UUID(int=1),
        document_id=uuid.UUID(int=2),
        user_id=uuid.UUID(int=3),
        stage="parse",
        correlation_id="c-1",
    )


def test_a_stage_message_that_cannot_be_sent_is_sqs_unavailable(sqs: tuple[Any, Stubber]) -> None:
    client, stubber = sqs
    stubber.add_client_error("send_message", service_error_code="AWS.SimpleQueueService.NonExistentQueue")
    with pytest.raises(DependencyUnavailable) as caught:
        send_stage_message(client, QUEUE_URL, _message())
    assert caught.value.code == "sqs_unavailable"


def test_a_stage_message_is_sent_as_json_with_its_correlation_id_and_stage(sqs: tuple[Any, Stubber]) -> None:
    client, stubber = sqs
    message = _message()
    stubber.add_response(
        "send_message",
        {"MessageId": "m-1"},
        {
            "QueueUrl": QUEUE_URL,
            "MessageBody": message.model_dump_json(),
            "MessageAttributes": {
                "correlation_id": {"DataType": "String", "StringValue": "c-1"},
                "stage": {"DataType": "String", "StringValue": "parse"},
            },
        },
    )
    assert send_stage_message(client, QUEUE_URL, message) == "m-1"
    assert StageMessage.parse_body(message.model_dump_json()) == message


def test_a_redelivery_delay_that_fails_is_left_to_the_queues_own_timeout(sqs: tuple[Any, Stubber]) -> None:
    client, stubber = sqs
    # GIVEN SQS refusing to change the message's visibility (the receipt expired, say)
    stubber.add_client_error("change_message_visibility", service_error_code="ReceiptHandleIsInvalid")
    stubber.add_response(
        "change_message_visibility", {}, {"QueueUrl": QUEUE_URL, "ReceiptHandle": "r-2", "VisibilityTimeout": 12}
    )
    # WHEN a redelivery is delayed THEN nothing is raised: the message comes back after the queue's timeout
    assert delay_redelivery(client, QUEUE_URL, "r-1", 6) is None
    # AND a delay that works asks for exactly the seconds given
    delay_redelivery(client, QUEUE_URL, "r-2", 12)
