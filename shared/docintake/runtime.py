"""Cold-start wiring shared by every handler: settings, the database and the AWS clients."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any, Literal

from docintake.aws import lambda_client, s3_client, secrets_client, sqs_client
from docintake.config import Settings, load_settings
from docintake.context import Context
from docintake.db import Database, database_url_from_secret


def build_pipeline(function_name: str, *, on_first_use: Collection[Literal["s3", "sqs"]] = ()) -> Context:
    """A stage's or an API function's wiring: its role's database, S3 and SQS. The clients named in
    ``on_first_use`` are built when a request first uses them, not at start: for an API function, whose cold start
    a user waits for, and which seldom or never needs them (aws.ClientOnFirstUse)."""
    settings = load_settings()
    s3 = s3_client(on_first_use="s3" in on_first_use)
    sqs = sqs_client(on_first_use="sqs" in on_first_use)
    return Context(settings, build_database(settings), s3, sqs, function_name)


def build_database(settings: Settings) -> Database:
    """The function's database: DATABASE_URL, else the URL built from the DATABASE_SECRET_ARN secret."""
    return Database(_database_url(settings))


def build_operations(function_name: str) -> Context:
    """SweeperFunction's wiring: the sweeper role's database, and ValidateFunction to re-invoke."""
    settings = load_settings()
    invoke = async_invoker(settings.validate_function_name) if settings.validate_function_name else None
    return Context(settings, Database(_database_url(settings)), s3_client(), sqs_client(), function_name, invoke)


def async_invoker(function_name: str) -> Callable[[dict[str, Any]], None]:
    """Invokes a function asynchronously (InvocationType=Event), as S3 does."""
    client = lambda_client()

    def invoke(event: dict[str, Any]) -> None:
        client.invoke(FunctionName=function_name, InvocationType="Event", Payload=json.dumps(event).encode())

    return invoke


def _database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    if settings.database_secret_arn:
        return database_url_from_secret(settings.database_secret_arn, secrets_client())
    raise RuntimeError("set DATABASE_URL or DATABASE_SECRET_ARN")
