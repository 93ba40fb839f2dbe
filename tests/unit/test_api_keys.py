"""API keys from a setting or a Secrets Manager secret (docintake.aws.read_api_key): what each broken secret becomes,
and that no error repeats the secret's text."""

from __future__ import annotations

from typing import Any, cast

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from pydantic import SecretStr

from docintake.aws import read_api_key, secrets_client
from docintake.errors import DependencyUnavailable, TransientError

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:parser-key"
NEEDS = "set PARSER_API_KEY or PARSER_API_KEY_SECRET_ARN"


class FakeSecrets:
    """Secrets Manager's get_secret_value: the response given, or the error raised."""

    def __init__(self, response: dict[str, Any] | None = None, error: Exception | None = None) -> None:
        self.response = response or {}
        self.error = error
        self.asked: list[str] = []

    def get_secret_value(self, *, SecretId: str) -> dict[str, Any]:  # boto3 spells it SecretId
        self.asked.append(SecretId)
        if self.error is not None:
            raise self.error
        return self.response


def _read(secrets: FakeSecrets, key: SecretStr | None = None, arn: str | None = ARN) -> str:
    return read_api_key(key, arn, what="parser key", needs=NEEDS, secrets=cast(Any, secrets))


def test_a_key_set_directly_wins_over_the_secret_and_is_trimmed() -> None:
    # GIVEN a key in the settings, padded, and a secret ARN too
    secrets = FakeSecrets({"SecretString": "from-the-secret"})
    # WHEN the key is read THEN it is the setting's, trimmed, and the secret is never asked for
    assert _read(secrets, key=SecretStr("  llx-direct \n")) == "llx-direct"
    assert secrets.asked == []


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetSecretValue"),
        EndpointConnectionError(endpoint_url="https://secretsmanager.us-east-1.amazonaws.com"),
    ],
    ids=["denied", "unreachable"],
)
def test_a_secret_that_cannot_be_read_is_a_dependency_outage_with_its_code(error: Exception) -> None:
    # GIVEN Secrets Manager refusing or unreachable
    secrets = FakeSecrets(error=error)
    # WHEN the key is read
    with pytest.raises(DependencyUnavailable) as caught:
        _read(secrets)
    # THEN it is secrets_unavailable, transient (the next attempt may read it), and names the key it wanted
    assert caught.value.code == "secrets_unavailable"
    assert isinstance(caught.value, TransientError)
    assert "parser key" in str(caught.value)
    assert secrets.asked == [ARN]


@pytest.mark.parametrize(
    ("response", "message"),
    [
        ({"SecretBinary": b"llx-binary"}, "the parser key secret has no SecretString"),
        ({"SecretString": ""}, "the parser key secret has no SecretString"),
        ({"SecretString": '{"api_key": "llx-unterminated'}, "the parser key secret is not valid JSON"),
        ({"SecretString": '{"key": "llx-misnamed"}'}, 'the parser key secret has no string "api_key"'),
        ({"SecretString": '{"api_key": 42}'}, 'the parser key secret has no string "api_key"'),
        ({"SecretString": '{"api_key": "   "}'}, "the parser key is empty"),
    ],
    ids=["binary", "empty", "broken-json", "misnamed", "not-a-string", "blank"],
)
def test_a_secret_without_a_usable_key_says_what_is_wrong_without_repeating_it(
    response: dict[str, Any], message: str
) -> None:
    # GIVEN a secret that holds no usable key
    # WHEN the key is read
    with pytest.raises(ValueError) as caught:
        _read(FakeSecrets(response))
    # THEN the error says what is wrong with it, and none of the secret's text is in the error
    assert str(caught.value) == message
    assert "llx-" not in str(caught.value)
    assert caught.value.__cause__ is None or "llx-" not in str(caught.value.__cause__)


def test_no_key_and_no_secret_says_which_settings_to_set() -> None:
    with pytest.raises(ValueError, match="set PARSER_API_KEY or PARSER_API_KEY_SECRET_ARN"):
        _read(FakeSecrets(), key=None, arn=None)
    with pytest.raises(ValueError, match="set PARSER_API_KEY"):
        _read(FakeSecrets(), key=None, arn="")


def test_a_key_set_to_blanks_is_empty() -> None:
    with pytest.raises(ValueError, match="the parser key is empty"):
        _read(FakeSecrets(), key=SecretStr(" \t"))


def test_the_secrets_client_retries_like_the_other_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a region (the suite's environment has none)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    # WHEN the Secrets Manager client is built
    client = secrets_client()
    # THEN it is Secrets Manager's, in that region, with the standard retry mode and four retries (botocore counts
    # the first call too: five in all)
    assert client.meta.service_model.service_name == "secretsmanager"
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}
