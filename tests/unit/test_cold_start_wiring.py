"""What a handler wires at cold start (runtime.py, db.py, aws.py): the database URL from DATABASE_URL or an RDS-style
secret, an unreachable database as a transient error with its code, the asynchronous invoke of ValidateFunction, and
the clients an API function builds on first use rather than at start."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import boto3
import pytest
from psycopg.conninfo import conninfo_to_dict

from docintake import aws, runtime
from docintake.config import Settings
from docintake.db import Database
from docintake.errors import DependencyUnavailable, TransientError

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds-docintake"


class FakeSecrets:
    def __init__(self, secret: dict[str, Any]) -> None:
        self.secret = secret
        self.asked: list[str] = []

    def get_secret_value(self, *, SecretId: str) -> dict[str, str]:  # boto3 spells it SecretId
        self.asked.append(SecretId)
        return {"SecretString": json.dumps(self.secret)}


def test_the_database_url_is_built_from_an_rds_secret_with_tls_required(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN no DATABASE_URL, only the ARN of an RDS-style secret whose password needs quoting
    secrets = FakeSecrets(
        {"host": "db.internal", "port": 6543, "dbname": "intake", "username": "worker", "password": "p@ss w'rd"}
    )
    monkeypatch.setattr(runtime, "secrets_client", lambda: secrets)
    settings = Settings(database_url=None, database_secret_arn=SECRET_ARN)
    # WHEN the function's database is built
    database = runtime.build_database(settings)
    # THEN its URL holds the secret's parts, the password intact, and requires TLS
    assert conninfo_to_dict(database.url) == {
        "host": "db.internal",
        "port": "6543",
        "dbname": "intake",
        "user": "worker",
        "password": "p@ss w'rd",
        "sslmode": "require",
    }
    assert secrets.asked == [SECRET_ARN]


def test_a_secret_without_port_or_dbname_gets_postgres_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "secrets_client", lambda: FakeSecrets({"host": "h", "username": "u", "password": "p"}))
    url = runtime.build_database(Settings(database_url=None, database_secret_arn=SECRET_ARN)).url
    assert conninfo_to_dict(url) == {
        "host": "h",
        "port": "5432",
        "dbname": "docintake",
        "user": "u",
        "password": "p",
        "sslmode": "require",
    }


def test_database_url_wins_and_no_setting_at_all_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_secrets() -> None:
        raise AssertionError("the secret must not be read when DATABASE_URL is set")

    monkeypatch.setattr(runtime, "secrets_client", no_secrets)
    url = "postgresql://api@127.0.0.1:5432/docintake"
    assert runtime.build_database(Settings(database_url=url, database_secret_arn=SECRET_ARN)).url == url
    with pytest.raises(RuntimeError, match="set DATABASE_URL or DATABASE_SECRET_ARN"):
        runtime.build_database(Settings(database_url=None, database_secret_arn=None))


def test_an_unreachable_database_is_database_unavailable_and_transient() -> None:
    # GIVEN a database URL where nothing listens (port 1 on loopback refuses at once)
    database = Database("postgresql://nobody@127.0.0.1:1/docintake")
    # WHEN a transaction is opened
    with pytest.raises(DependencyUnavailable) as caught, database.transaction():
        pass
    # THEN it is database_unavailable, which a stage retries
    assert caught.value.code == "database_unavailable"
    assert isinstance(caught.value, TransientError)
    # AND closing a database that never connected is harmless
    database.close()


def test_validate_is_invoked_asynchronously_with_the_event_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    class FakeLambda:
        def invoke(self, **kwargs: Any) -> dict[str, int]:
            calls.append(kwargs)
            return {"StatusCode": 202}

    monkeypatch.setattr(runtime, "lambda_client", FakeLambda)
    # GIVEN the invoker the sweeper uses to validate again an upload whose S3 event was lost
    invoke = runtime.async_invoker("docintake-ValidateFunction")
    event = {"Records": [{"s3": {"bucket": {"name": "documents"}, "object": {"key": "uploads/u/d/p.pdf"}}}]}
    # WHEN it is called
    invoke(event)
    # THEN ValidateFunction is invoked as S3 invokes it: asynchronously, with the event as JSON
    assert len(calls) == 1
    assert calls[0]["FunctionName"] == "docintake-ValidateFunction"
    assert calls[0]["InvocationType"] == "Event"
    assert json.loads(calls[0]["Payload"]) == event


class CountingSession:
    """A boto3 session that counts the clients built, slowly, so that first uses at once overlap."""

    def __init__(self) -> None:
        self.built: list[tuple[str, dict[str, Any]]] = []

    def client(self, service: str, **kwargs: Any) -> Any:
        time.sleep(0.05)
        self.built.append((service, kwargs))
        return FakeQueueClient()


class FakeQueueClient:
    def get_queue_url(self, *, QueueName: str) -> dict[str, str]:  # boto3 spells it QueueName
        return {"QueueUrl": f"http://queues/{QueueName}"}


def test_a_client_on_first_use_is_built_once_with_the_endpoint_and_region_of_its_wiring(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = CountingSession()
    monkeypatch.setattr(aws, "_first_use_session", lambda: session)
    # GIVEN an SQS client to be built on first use, wired where the local stack's endpoint and a region are set
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    sqs = aws.sqs_client(on_first_use=True)
    assert isinstance(sqs, aws.ClientOnFirstUse) and not sqs.built and session.built == []
    # AND the variables are gone by the time a request uses it (the local stack sets them only at a module's load)
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    # WHEN eight requests use it at once
    answers: list[str] = []
    threads = [
        threading.Thread(target=lambda n=n: answers.append(sqs.get_queue_url(QueueName=f"q{n}")["QueueUrl"]))
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # THEN one client was built, against the endpoint and region of its wiring, and every request was answered by it
    assert session.built == [
        ("sqs", {"endpoint_url": "http://127.0.0.1:4566", "region_name": "eu-west-1", "config": aws._RETRIES})
    ]
    assert sqs.built and sorted(answers) == [f"http://queues/q{n}" for n in range(8)]


def test_an_s3_client_on_first_use_is_a_real_path_style_client_outside_boto3s_default_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # GIVEN S3 built on first use, wired against a local endpoint
    s3 = aws.s3_client(on_first_use=True)
    assert repr(s3) == "<s3 client, built on first use>"
    # WHEN its first attribute is read
    meta = s3.meta
    # THEN it is S3 on that endpoint, path-style as at start, from a session of its own (boto3's default one is not
    # thread-safe, and no default session was made)
    assert (meta.service_model.service_name, meta.endpoint_url) == ("s3", "http://127.0.0.1:4566")
    assert meta.config.s3 == {"addressing_style": "path"}
    assert boto3.DEFAULT_SESSION is None
    assert repr(s3) == "<s3 client, built>"
