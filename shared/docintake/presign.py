"""Presigned S3 PUT URLs without a boto3 client: AWS Signature Version 4 in the query string (hashlib and hmac), so
UploadFunction's cold start skips botocore's session and S3's service model and endpoint rules (docs/decisions.md,
API cold start). The URL is byte for byte the one ``s3.generate_presigned_url("put_object", ...)`` gives for the
same configuration (tests/unit/test_presign.py holds it to botocore's); any configuration this module does not
reproduce exactly goes to botocore instead (``S3Presigner.presign_put``).

The algorithm (docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html): a canonical request
(method, the key's path, the sorted query, the signed headers, ``UNSIGNED-PAYLOAD``), a string to sign over its
hash, and a signature with the key derived from the secret, the date, the region and ``s3``."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_ALGORITHM = "AWS4-HMAC-SHA256"
_UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# botocore drops this content type from a presigned request (it is the one it sets on its own form requests).
_DROPPED_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
# The "aws" partition's regions (botocore's partitions.json): {bucket}.s3.{region}.amazonaws.com, us-east-1 global.
_AWS_REGION = re.compile(r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$")
# A bucket that is a host label in every addressing style: no dots, no "--" (S3 Express and access point suffixes).
_PLAIN_BUCKET = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
# Settings that change the endpoint botocore picks (FIPS, dual-stack, a regional us-east-1, an S3-only endpoint) or
# the credentials it reads (a named profile): with any of them set, botocore presigns.
_BOTOCORE_ONLY = (
    "AWS_ENDPOINT_URL_S3",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_S3_US_EAST_1_REGIONAL_ENDPOINT",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    # botocore prefers the legacy token to AWS_SESSION_TOKEN, and refreshes (or refuses) credentials that carry
    # an expiry; Lambda sets neither.
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
)


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)


def credentials_from_environment(environ: Mapping[str, str]) -> Credentials | None:
    """The credentials Lambda puts in the environment, the token from AWS_SESSION_TOKEN (with AWS_SECURITY_TOKEN set,
    which botocore would prefer, the presigner leaves signing to botocore); None without both keys."""
    access_key = environ.get("AWS_ACCESS_KEY_ID", "")
    secret_key = environ.get("AWS_SECRET_ACCESS_KEY", "")
    if not access_key or not secret_key:
        return None
    token = environ.get("AWS_SESSION_TOKEN", "") or None
    return Credentials(access_key, secret_key, token)


def s3_base_url(bucket: str, region: str, endpoint_url: str | None) -> tuple[str, str] | None:
    """The URL the key goes under, and the host header, as botocore's endpoint rules give them for our S3 client
    (aws.s3_client): path style under a custom endpoint (AWS_ENDPOINT_URL, the local stack and moto), virtual-hosted
    on AWS, where us-east-1 is the global ``s3.amazonaws.com``. None for what this does not reproduce exactly (a
    dotted or unusual bucket, an endpoint with a path or IPv6 host, a region outside the aws partition)."""
    if endpoint_url is not None:
        parts = urlsplit(endpoint_url)
        if (
            parts.scheme not in {"http", "https"}
            or not parts.hostname
            or "[" in parts.netloc
            or "@" in parts.netloc
            or parts.path not in {"", "/"}
            or parts.query
            or parts.fragment
            or not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket)
        ):
            return None
        try:
            port = parts.port
        except ValueError:
            return None
        # The host header: lowercase, without the scheme's default port (botocore.auth._host_from_url).
        default_port = {"http": 80, "https": 443}[parts.scheme]
        host = parts.hostname if port in {None, default_port} else f"{parts.hostname}:{port}"
        return f"{parts.scheme}://{parts.netloc}/{bucket}/", host
    if not _AWS_REGION.match(region) or not _PLAIN_BUCKET.match(bucket) or _IP_ADDRESS.match(bucket):
        return None
    host = f"{bucket}.s3.amazonaws.com" if region == "us-east-1" else f"{bucket}.s3.{region}.amazonaws.com"
    return f"https://{host}/", host


def presigned_put_url(
    credentials: Credentials,
    *,
    region: str,
    base_url: str,
    host: str,
    key: str,
    content_type: str,
    size_bytes: int,
    checksum_sha256: str,
    expires: int,
    now: datetime,
) -> str:
    """A SigV4 query-signed PUT of ``key`` under ``base_url`` (``s3_base_url``), signing Content-Type,
    Content-Length, x-amz-checksum-sha256 (base64) and the host; ``now`` in UTC."""
    timestamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    scope = f"{timestamp[:8]}/{region}/s3/aws4_request"
    path = quote(key.encode(), safe="/~")  # botocore's {Key+}: UTF-8, every byte escaped but / and ~
    headers = {
        "content-length": str(size_bytes),
        "content-type": content_type,
        "host": host,
        "x-amz-checksum-sha256": checksum_sha256,
    }
    if content_type == _DROPPED_CONTENT_TYPE:
        del headers["content-type"]
    signed_headers = ";".join(sorted(headers))
    # The URL's order (botocore's): algorithm, credential, date, expires, signed headers, token, then signature.
    query = [
        ("X-Amz-Algorithm", _ALGORITHM),
        ("X-Amz-Credential", f"{credentials.access_key}/{scope}"),
        ("X-Amz-Date", timestamp),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", signed_headers),
    ]
    if credentials.token is not None:
        query.append(("X-Amz-Security-Token", credentials.token))
    encoded = [(name, quote(value.encode(), safe="-_.~")) for name, value in query]
    canonical_request = "\n".join(
        [
            "PUT",
            urlsplit(base_url).path + path,
            "&".join(f"{name}={value}" for name, value in sorted(encoded)),
            # Values trimmed, inner runs of white space one space (SigV4's Trimall).
            "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in sorted(headers)),
            signed_headers,
            _UNSIGNED_PAYLOAD,
        ]
    )
    string_to_sign = "\n".join([_ALGORITHM, timestamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest()])
    signing_key = f"AWS4{credentials.secret_key}".encode()
    for part in (timestamp[:8], region, "s3", "aws4_request"):
        signing_key = hmac.new(signing_key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    query_string = "&".join(f"{name}={value}" for name, value in encoded)
    return f"{base_url}{path}?{query_string}&X-Amz-Signature={signature}"


def _config_file_in_use(environ: Mapping[str, str]) -> bool:
    """Whether botocore would read a config file (AWS_CONFIG_FILE, else ~/.aws/config), which can set any endpoint
    option above (dual-stack, FIPS, an endpoint URL, the addressing style): then botocore presigns. Lambda has
    none; /dev/null, as the tests name it, is none."""
    named = environ.get("AWS_CONFIG_FILE")
    path = Path(named) if named else Path(environ.get("HOME") or "~").expanduser() / ".aws" / "config"
    try:
        return path.is_file() and path.stat().st_size > 0
    except OSError:
        return True  # unreadable: let botocore decide what it makes of it


class S3Presigner:
    """Presigns UploadFunction's PUTs. Built when the function is wired, reading what a boto3 client built then
    would read from the environment: the credentials Lambda provides, AWS_DEFAULT_REGION and AWS_ENDPOINT_URL.

    Where those are not enough — no credentials in the environment (a local run with a profile or an instance
    role), no region, an endpoint setting or a bucket this module does not reproduce — it hands the request to
    ``fallback``, a botocore S3 client built on first use (aws.ClientOnFirstUse): botocore's credential chain and
    endpoint rules then cost a session and S3's model, in that case only, on the first upload."""

    def __init__(self, fallback: S3Client, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        self._fallback = fallback
        self._endpoint_url = environ.get("AWS_ENDPOINT_URL") or None
        self._region = environ.get("AWS_DEFAULT_REGION", "")
        own = (
            self._region and not any(environ.get(name) for name in _BOTOCORE_ONLY) and not _config_file_in_use(environ)
        )
        self._credentials = credentials_from_environment(environ) if own else None

    @property
    def signs_itself(self) -> bool:
        """Whether it signs with the environment's credentials (else every URL is botocore's)."""
        return self._credentials is not None

    def presign_put(
        self,
        *,
        bucket: str,
        key: str,
        content_type: str,
        size_bytes: int,
        checksum_sha256: str,
        expires: int,
        now: datetime | None = None,
    ) -> str:
        """A PUT URL that signs Content-Type, Content-Length and x-amz-checksum-sha256 (base64)."""
        base = s3_base_url(bucket, self._region, self._endpoint_url) if self._credentials is not None else None
        if self._credentials is None or base is None:
            return self._fallback.generate_presigned_url(
                "put_object",
                Params={
                    "Bucket": bucket,
                    "Key": key,
                    "ContentType": content_type,
                    "ContentLength": size_bytes,
                    "ChecksumSHA256": checksum_sha256,
                },
                ExpiresIn=expires,
                HttpMethod="PUT",
            )
        base_url, host = base
        return presigned_put_url(
            self._credentials,
            region=self._region,
            base_url=base_url,
            host=host,
            key=key,
            content_type=content_type,
            size_bytes=size_bytes,
            checksum_sha256=checksum_sha256,
            expires=expires,
            now=now or datetime.now(UTC),
        )
