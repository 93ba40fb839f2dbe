"""Cold-start wiring shared by every handler: settings, the database and the AWS clients."""

from __future__ import annotations

from docintake.aws import s3_client, secrets_client, sqs_client
from docintake.config import load_settings
from docintake.db import Database, database_url_from_secret
from docintake.jobs import Pipeline


def build_pipeline(function_name: str) -> Pipeline:
    settings = load_settings()
    if settings.database_url:
        url = settings.database_url
    elif settings.database_secret_arn:
        url = database_url_from_secret(settings.database_secret_arn, secrets_client())
    else:
        raise RuntimeError("set DATABASE_URL or DATABASE_SECRET_ARN")
    return Pipeline(settings, Database(url), s3_client(), sqs_client(), function_name)
