"""boto3 clients, built once per container, at start or on first use. AWS_ENDPOINT_URL (moto locally) is honoured by
boto3 itself."""

from __future__ import annotations

import json
import os
import threading
from typing import TYPE_CHECKING, Any, Literal, cast

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


def s3_client(*, on_first_use: bool = False) -> S3Client:
    """S3, built now, or with ``on_first_use`` when a request first uses it (``ClientOnFirstUse``)."""
    # Path-style against a local endpoint (an IP has no bucket subdomains); virtual-hosted on AWS.
    style: Literal["path", "virtual"] = "path" if os.environ.get("AWS_ENDPOINT_URL") else "virtual"
    config = _RETRIES.merge(Config(signature_version="s3v4", s3={"addressing_style": style}))
    if on_first_use:
        return cast("S3Client", ClientOnFirstUse("s3", config))
    return boto3.client("s3", config=config)


def sqs_client(*, on_first_use: bool = False) -> SQSClient:
    """SQS, built now, or with ``on_first_use`` when a request first uses it (``ClientOnFirstUse``)."""
    if on_first_use:
        return cast("SQSClient", ClientOnFirstUse("sqs", _RETRIES))
    return boto3.client("sqs", config=_RETRIES)


class ClientOnFirstUse:
    """Stands in for a boto3 client and builds it when one of its methods or attributes is first used: for an API
    function whose requests seldom or never need it, so its cold start (a user's wait) skips the service's model and,
    if it builds no other client, botocore's session (S3's client alone was 0.42x the bare boto3 + psycopg + pydantic
    imports: the session 0.25x, S3's model and endpoint rules 0.17x).

    Built once, under a lock, from a session of the lazily built clients' own: boto3's default session is not
    thread-safe, and the local stack runs handlers and loads modules in threads. The endpoint and region are read
    now, when the function is wired, as a client built at start reads them (the local stack applies a function's
    environment only while it loads the module)."""

    def __init__(self, service: Literal["s3", "sqs"], config: Config) -> None:
        self._service = service
        self._config = config
        self._endpoint_url = os.environ.get("AWS_ENDPOINT_URL")
        self._region_name = os.environ.get("AWS_DEFAULT_REGION")
        self._client: Any = None

    @property
    def built(self) -> bool:
        return self._client is not None

    def client(self) -> Any:
        """The client, built on the first call."""
        client = self._client
        if client is None:
            with _FIRST_USE_LOCK:
                if self._client is None:
                    self._client = _first_use_session().client(
                        self._service,
                        endpoint_url=self._endpoint_url,
                        region_name=self._region_name,
                        config=self._config,
                    )
                client = self._client
        return client

    def __getattr__(self, name: str) -> Any:
        # Only names the stand-in lacks come here: the client's. A copy or an unpickling, before __init__ ran,
        # must not build one.
        if name.startswith("__") or "_client" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.client(), name)

    def __repr__(self) -> str:
        return f"<{self._service} client, {'built' if self.built else 'built on first use'}>"


_FIRST_USE_LOCK = threading.Lock()
_first_use: boto3.session.Session | None = None


def _first_use_session() -> boto3.session.Session:
    """The session every ``ClientOnFirstUse`` builds from (called under ``_FIRST_USE_LOCK``)."""
    global _first_use
    if _first_use is None:
        _first_use = boto3.session.Session()
    return _first_use


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
