"""boto3 clients, built once per container. AWS_ENDPOINT_URL (moto locally) is honoured by boto3 itself."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Literal

import boto3
from botocore.config import Config

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


def secrets_client() -> SecretsManagerClient:
    return boto3.client("secretsmanager", config=_RETRIES)
