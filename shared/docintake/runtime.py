"""Cold-start wiring shared by every handler: settings, the database and the AWS clients."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from docintake.aws import lambda_client, s3_client, secrets_client, sqs_client
from docintake.config import Settings, load_settings
from docintake.db import Database, database_url_from_secret

if TYPE_CHECKING:
    from docintake.jobs import Pipeline
    from docintake.operations import Operations


def build_pipeline(function_name: str) -> Pipeline:
    # Imported here: SearchFunction wires only its settings and database (build_database), and the stage
    # machine would add its message, queue and metrics modules to that function's cold start.
    from docintake.jobs import Pipeline

    settings = load_settings()
    return Pipeline(settings, build_database(settings), s3_client(), sqs_client(), function_name)


def build_database(settings: Settings) -> Database:
    """The function's database: DATABASE_URL, else the URL built from the DATABASE_SECRET_ARN secret."""
    return Database(_database_url(settings))


def build_operations(function_name: str) -> Operations:
    """SweeperFunction's wiring: the sweeper role's database, and ValidateFunction to re-invoke."""
    from docintake.operations import Operations  # the sweeper's alone: see build_pipeline

    settings = load_settings()
    invoke = async_invoker(settings.validate_function_name) if settings.validate_function_name else None
    return Operations(settings, Database(_database_url(settings)), s3_client(), sqs_client(), function_name, invoke)


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
