"""boto3 clients, built once per container. AWS_ENDPOINT_URL (moto locally) is honoured by boto3 itself."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from docintake.errors import DependencyUnavailable
from docintake.vocabulary import ErrorCode

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

_RETRIES = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=30)


def s3_client() -> S3Client:
    # Path-style against a local endpoint (an IP has no bucket subdomains); virtual-hosted on AWS.
    style: Literal["path", "virtual"] = "path" if os.environ.get("AWS_ENDPOINT_URL") else "virtual"
    config = _RETRIES.merge(Config(signature_version="s3v4", s3={"addressing_style": style}))
    return boto3.client("s3", config=config)


def sqs_client() -> SQSClient:
    return boto3.client("sqs", config=_RETRIES)


def lambda_client() -> Any:
    return boto3.client("lambda", config=_RETRIES)


def secrets_client() -> SecretsManagerClient:
    return boto3.client("secretsmanager", config=_RETRIES)


def read_api_key(
    key: SecretStr | None, secret_arn: str | None, *, what: str, needs: str, secrets: SecretsManagerClient | None = None
) -> str:
    """An API key from its setting, else from the Secrets Manager secret, whose string is the key or JSON
    ``{"api_key": …}``. ``what`` names the key in errors; ``needs`` says which settings to set."""
    if key is not None:
        value = key.get_secret_value()
    elif secret_arn:
        try:
            secret = (secrets or secrets_client()).get_secret_value(SecretId=secret_arn).get("SecretString")
        except (ClientError, BotoCoreError) as exc:
            raise DependencyUnavailable(
                f"could not read the {what} secret", code=ErrorCode.SECRETS_UNAVAILABLE
            ) from exc
        if not secret:
            raise ValueError(f"the {what} secret has no SecretString")
        value = _key_from_secret(secret.strip(), what)
    else:
        raise ValueError(needs)
    value = value.strip()
    if not value:
        raise ValueError(f"the {what} is empty")
    return value


def _key_from_secret(text: str, what: str) -> str:
    if not text.startswith("{"):
        return text
    try:
        value = json.loads(text).get("api_key")
    except ValueError as exc:
        raise ValueError(f"the {what} secret is not valid JSON") from exc
    if not isinstance(value, str):
        raise ValueError(f'the {what} secret has no string "api_key"')
    return value
