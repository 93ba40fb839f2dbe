"""UploadFunction's presigned PUT (docintake.presign), held to botocore's: for the same time, credentials, region and
endpoint, our URL is byte for byte ``s3.generate_presigned_url("put_object", ...)`` of the S3 client aws.s3_client
builds (same host and path, same query parameters in the same order, same signature)."""

from __future__ import annotations

import hashlib
import itertools
import pathlib
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.auth
import pytest

from docintake import aws
from docintake.presign import S3Presigner
from docintake.storage import sha256_base64

BUCKET = "docintake-documents-123456789012-us-east-1"
KEYS = (
    "uploads/0b6c1c8e-4f8e-4a1e-9d57-0c3b3f0e6a11/5f3e2d1c-0000-4000-8000-000000000001/policy.pdf",
    "uploads/u/d/my policy (final) copy.pdf",
    "uploads/u/d/déclaration-ñ-日本語-Ελληνικά.pdf",
    "uploads/u/d/a+b=c~d.txt",
    "uploads/u/d/100%-covered %2F%20.md",
    "uploads/u/d/semi;colon,comma&amp?q#frag'quote\"!*@$.txt",
    "uploads/u//d/./../x.txt",
    "/leading/slash.txt",
    "uploads/u/d/emoji-📄.docx",
    "uploads/u/d/tab\tand-newline-free.txt",
)
CONTENT_TYPES = (
    "application/pdf",
    "text/plain; charset=utf-8",
    "text/markdown;  charset=UTF-8 ",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    # botocore leaves this one unsigned in a presigned URL (its own form requests' type); ours does too.
    "application/x-www-form-urlencoded; charset=utf-8",
)
SIZES = (1, 1234, 50 * 1024 * 1024, 5 * 1024**3)
# (region, AWS_ENDPOINT_URL): virtual-hosted on AWS (us-east-1 is the global endpoint), path style under a custom one.
ENDPOINTS = (
    ("us-east-1", None),
    ("eu-west-2", None),
    ("ap-southeast-2", None),
    ("us-east-1", "http://127.0.0.1:5000"),
    ("eu-central-1", "http://LocalHost:4566/"),
    ("us-west-2", "https://minio.example.com:443"),
    ("us-east-1", "http://localhost:80"),
)
TOKENS = (None, "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+a/b=c%d&e")
TIMES = (datetime(2026, 12, 2, 10, 31, 7, tzinfo=UTC), datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))


class NoBotocore:
    """The fallback where our signer must sign: any use of it fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"botocore was asked for {name}")


def production_client(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The S3 client UploadFunction built at start until now (aws.s3_client), from a fresh default session."""
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    return aws.s3_client()


def botocore_url(
    monkeypatch: pytest.MonkeyPatch, s3: Any, now: datetime, key: str, content_type: str, size: int, checksum: str
) -> str:
    """The URL ``s3`` presigns at ``now``."""
    # botocore's SigV4 signers read the time through botocore.auth.get_current_datetime (naive UTC).
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now.replace(tzinfo=None))
    return s3.generate_presigned_url(
        "put_object",
        Params={
            "Bucket": BUCKET,
            "Key": key,
            "ContentType": content_type,
            "ContentLength": size,
            "ChecksumSHA256": checksum,
        },
        ExpiresIn=900 if size % 2 else 3600,
        HttpMethod="PUT",
    )


def set_environment(monkeypatch: pytest.MonkeyPatch, region: str, endpoint: str | None, token: str | None) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE/KEY+1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    monkeypatch.setenv("HOME", "/nonexistent/home")  # no ~/.aws/config, as on Lambda
    for name, value in (("AWS_ENDPOINT_URL", endpoint), ("AWS_SESSION_TOKEN", token)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


@pytest.mark.parametrize("token", TOKENS, ids=["long-term-keys", "session-token"])
@pytest.mark.parametrize(("region", "endpoint"), ENDPOINTS, ids=[f"{r}-{e or 'aws'}" for r, e in ENDPOINTS])
def test_our_presigned_put_is_botocores_byte_for_byte(
    monkeypatch: pytest.MonkeyPatch, region: str, endpoint: str | None, token: str | None
) -> None:
    # GIVEN Lambda's credentials (with or without a session token), a region and an endpoint in the environment
    set_environment(monkeypatch, region, endpoint, token)
    presigner = S3Presigner(NoBotocore())  # type: ignore[arg-type]
    assert presigner.signs_itself
    s3 = production_client(monkeypatch)
    cases = itertools.product(KEYS, range(len(CONTENT_TYPES)), TIMES)
    for n, (key, type_index, now) in enumerate(cases):
        content_type = CONTENT_TYPES[(type_index + n) % len(CONTENT_TYPES)]
        size = SIZES[n % len(SIZES)] + n
        checksum = sha256_base64(hashlib.sha256(f"{key}{n}".encode()).hexdigest())
        # WHEN our signer and botocore presign the same PUT at the same instant
        ours = presigner.presign_put(
            bucket=BUCKET,
            key=key,
            content_type=content_type,
            size_bytes=size,
            checksum_sha256=checksum,
            expires=900 if size % 2 else 3600,
            now=now,
        )
        expected = botocore_url(monkeypatch, s3, now, key, content_type, size, checksum)
        # THEN the URLs are the same string
        assert ours == expected, (key, content_type, size, now)


def test_the_oracle_varies_with_what_is_signed(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN botocore's URL for one PUT (so equality above is not two constants agreeing)
    set_environment(monkeypatch, "us-east-1", None, None)
    now = TIMES[0]
    checksum = sha256_base64("ab" * 32)
    s3 = production_client(monkeypatch)
    url = botocore_url(monkeypatch, s3, now, KEYS[0], "application/pdf", 10, checksum)
    # WHEN the size, the checksum or the time differ
    # THEN its signature differs, and ours follows it
    for other in (
        botocore_url(monkeypatch, s3, now, KEYS[0], "application/pdf", 11, checksum),
        botocore_url(monkeypatch, s3, now, KEYS[0], "application/pdf", 10, sha256_base64("cd" * 32)),
        botocore_url(monkeypatch, s3, TIMES[1], KEYS[0], "application/pdf", 10, checksum),
    ):
        assert other.split("X-Amz-Signature=")[1] != url.split("X-Amz-Signature=")[1]
    ours = S3Presigner(NoBotocore()).presign_put(  # type: ignore[arg-type]
        bucket=BUCKET,
        key=KEYS[0],
        content_type="application/pdf",
        size_bytes=10,
        checksum_sha256=checksum,
        expires=3600,
        now=now,
    )
    assert ours == url
    assert url.startswith(f"https://{BUCKET}.s3.amazonaws.com/uploads/")


# A home whose ~/.aws/config asks for dual-stack endpoints.
HOME_WITH_CONFIG = pathlib.Path(__file__).parent / "fixtures" / "home-with-aws-config"


class RecordingClient:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def generate_presigned_url(self, operation: str, **kwargs: Any) -> str:
        self.calls.append({"operation": operation, **kwargs})
        return "https://botocore.example/signed"


@pytest.mark.parametrize(
    ("change", "bucket"),
    [
        ({"AWS_ACCESS_KEY_ID": None}, BUCKET),  # no credentials in the environment: botocore's chain
        ({"AWS_SECRET_ACCESS_KEY": ""}, BUCKET),
        ({"AWS_DEFAULT_REGION": None}, BUCKET),
        ({"AWS_PROFILE": "dev"}, BUCKET),
        ({"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000"}, BUCKET),
        ({"AWS_USE_DUALSTACK_ENDPOINT": "true"}, BUCKET),
        ({"AWS_S3_US_EAST_1_REGIONAL_ENDPOINT": "regional"}, BUCKET),
        ({"AWS_DEFAULT_REGION": "cn-north-1"}, BUCKET),
        ({}, "dotted.bucket.name"),
        ({}, "express--use1-az4--x-s3"),
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:5000/prefix"}, BUCKET),
        ({"AWS_ENDPOINT_URL": "http://[::1]:5000"}, BUCKET),
        ({"AWS_SECURITY_TOKEN": "legacy"}, BUCKET),  # botocore prefers it to AWS_SESSION_TOKEN
        ({"AWS_CREDENTIAL_EXPIRATION": "2026-01-01T00:00:00Z"}, BUCKET),  # botocore refreshes or refuses
        ({"AWS_CONFIG_FILE": str(HOME_WITH_CONFIG / ".aws" / "config")}, BUCKET),  # may set dual-stack, FIPS, …
        ({"AWS_CONFIG_FILE": None, "HOME": str(HOME_WITH_CONFIG)}, BUCKET),  # ~/.aws/config, the same
    ],
)
def test_what_we_do_not_reproduce_is_presigned_by_botocore(
    monkeypatch: pytest.MonkeyPatch, change: dict[str, str | None], bucket: str
) -> None:
    # GIVEN an environment or a bucket outside what our signer reproduces exactly
    set_environment(monkeypatch, "us-east-1", None, None)
    for name, value in change.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    fallback = RecordingClient()
    # WHEN a PUT is presigned
    url = S3Presigner(fallback).presign_put(  # type: ignore[arg-type]
        bucket=bucket,
        key="uploads/u/d/a.pdf",
        content_type="application/pdf",
        size_bytes=5,
        checksum_sha256="x=",
        expires=60,
    )
    # THEN botocore's client (built on first use) presigned it, with the same parameters
    assert url == "https://botocore.example/signed"
    assert fallback.calls == [
        {
            "operation": "put_object",
            "Params": {
                "Bucket": bucket,
                "Key": "uploads/u/d/a.pdf",
                "ContentType": "application/pdf",
                "ContentLength": 5,
                "ChecksumSHA256": "x=",
            },
            "ExpiresIn": 60,
            "HttpMethod": "PUT",
        }
    ]


def test_the_environment_is_read_when_the_function_is_wired(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a presigner wired under the local stack's function environment, which is applied only while the
    # function's module loads
    set_environment(monkeypatch, "us-east-1", "http://127.0.0.1:5000", "token")
    presigner = S3Presigner(NoBotocore())  # type: ignore[arg-type]
    # WHEN a request presigns after that environment is gone
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name)
    url = presigner.presign_put(
        bucket=BUCKET, key="k", content_type="application/pdf", size_bytes=1, checksum_sha256="x=", expires=60
    )
    # THEN it signs with what it read at wiring, as a client built then would
    assert url.startswith(f"http://127.0.0.1:5000/{BUCKET}/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIA")
    assert "&X-Amz-Security-Token=token&X-Amz-Signature=" in url
