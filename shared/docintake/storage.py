"""S3: object keys (built by the server, never from a client's path), presigned uploads and verified reads."""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError

from docintake.errors import DependencyUnavailable, PermanentError
from docintake.vocabulary import ErrorCode

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

UPLOAD_PREFIX = "uploads/"
DERIVED_PREFIX = "derived/"
QUARANTINE_PREFIX = "quarantine/"
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
# UTF-8 bytes, so a name in any script keeps the key (82 bytes before it) far below S3's 1,024.
MAX_FILENAME_BYTES = 120
_DROPPED = {"'", "\u2019", "\u02bc", "\u115f", "\u1160", "\u3164", "\uffa0"}  # apostrophes; blank Hangul fillers
_DASHES = re.compile(r"-{2,}")
_EXTENSION = re.compile(r"[A-Za-z0-9]{1,10}")
_READ_CHUNK = 1024 * 1024


def sanitize_filename(name: str) -> str:
    """A safe, readable last path segment: NFKC; no directories, control or format characters (bidi
    overrides), or reserved names; letters, marks and digits of any script kept, any other run of
    characters one "-"; at most MAX_FILENAME_BYTES of UTF-8, with its extension. Never empty: a name with
    nothing readable left is "document"."""
    name = unicodedata.normalize("NFKC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C" and ch not in _DROPPED)
    name = _DASHES.sub("-", "".join(ch if _readable(ch) else "-" for ch in name))
    stem, dot, ext = name.rpartition(".")
    if not dot or not _EXTENSION.fullmatch(ext):
        stem, ext = name, ""
    stem = stem.strip(".-_")
    if stem.lower() in _RESERVED or not stem:
        stem = f"document-{stem}" if stem else "document"
    room = MAX_FILENAME_BYTES - (len(ext) + 1 if ext else 0)
    # Cut at a character boundary; what the cut leaves at the end is stripped like any end.
    stem = stem.encode()[:room].decode(errors="ignore").rstrip(".-_")
    return f"{stem}.{ext}" if ext else stem


def _readable(ch: str) -> bool:
    return ch in "._-" or unicodedata.category(ch)[0] in "LMN"


def upload_key(user_id: UUID, document_id: UUID, safe_name: str) -> str:
    return f"{UPLOAD_PREFIX}{user_id}/{document_id}/{safe_name}"


@dataclass(frozen=True)
class UploadKey:
    user_id: UUID
    document_id: UUID
    key: str


def parse_upload_key(raw_key: str) -> UploadKey | None:
    """Reads an S3 event's (URL-encoded) key; None for anything that is not ``uploads/{uuid}/{uuid}/name``."""
    key = unquote_plus(raw_key)
    parts = key.split("/")
    if len(parts) != 4 or f"{parts[0]}/" != UPLOAD_PREFIX or not parts[3]:
        return None
    try:
        return UploadKey(UUID(parts[1]), UUID(parts[2]), key)
    except ValueError:
        return None


def markdown_key(user_id: UUID, document_id: UUID) -> str:
    return f"{DERIVED_PREFIX}{user_id}/{document_id}/document.md"


def page_map_key(user_id: UUID, document_id: UUID) -> str:
    return f"{DERIVED_PREFIX}{user_id}/{document_id}/pages.json"


def part_key(user_id: UUID, document_id: UUID, job_id: UUID, step: str, part: int) -> str:
    """One part of a large document's stage output (see jobs.py), under the document's derived prefix."""
    return f"{DERIVED_PREFIX}{user_id}/{document_id}/parts/{job_id}/{step}-{part:05d}.json"


def sha256_base64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


@contextmanager
def s3_errors(operation: str) -> Iterator[None]:
    """Translates botocore errors: a missing object is permanent, anything else may pass."""
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in {"NoSuchKey", "404", "NoSuchVersion"}:
            raise PermanentError(f"{operation}: object not found", code=ErrorCode.OBJECT_MISSING) from exc
        if code in {"AccessDenied", "403"}:
            raise DependencyUnavailable(f"{operation}: access denied", code=ErrorCode.S3_ACCESS_DENIED) from exc
        raise DependencyUnavailable(f"{operation}: S3 error {code}", code=ErrorCode.S3_UNAVAILABLE) from exc
    except BotoCoreError as exc:
        raise DependencyUnavailable(f"{operation}: S3 unreachable", code=ErrorCode.S3_UNAVAILABLE) from exc


@dataclass(frozen=True)
class StoredObject:
    size: int
    sha256: str
    head: bytes
    version_id: str | None


def inspect_object(s3: S3Client, bucket: str, key: str, version_id: str | None = None) -> StoredObject:
    """Streams the object once: its size, sha256 and first bytes (for magic-byte sniffing)."""
    with s3_errors("read upload"):
        kwargs = {"VersionId": version_id} if version_id else {}
        response = s3.get_object(Bucket=bucket, Key=key, **kwargs)  # type: ignore[arg-type]
        digest = hashlib.sha256()
        size = 0
        head = b""
        for block in response["Body"].iter_chunks(_READ_CHUNK):
            if len(head) < 8192:
                head += block[: 8192 - len(head)]
            digest.update(block)
            size += len(block)
        return StoredObject(size, digest.hexdigest(), head, response.get("VersionId"))


def get_bytes(s3: S3Client, bucket: str, key: str, version_id: str | None = None) -> bytes:
    with s3_errors("get object"):
        if version_id:
            return s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)["Body"].read()
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def put_bytes(s3: S3Client, bucket: str, key: str, data: bytes, content_type: str) -> None:
    with s3_errors("put object"):
        s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)


def delete_version(s3: S3Client, bucket: str, key: str, version_id: str) -> None:
    with s3_errors("delete object version"):
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version_id)


def object_exists(s3: S3Client, bucket: str, key: str) -> bool:
    try:
        with s3_errors("head object"):
            s3.head_object(Bucket=bucket, Key=key)
    except PermanentError:
        return False
    return True


def current_version(s3: S3Client, bucket: str, key: str) -> str | None:
    """The version id of the key's current object; None when it is gone or the bucket is unversioned."""
    try:
        with s3_errors("head object"):
            return s3.head_object(Bucket=bucket, Key=key).get("VersionId")
    except PermanentError:
        return None


def document_prefixes(user_id: UUID, document_id: UUID) -> list[str]:
    """Every prefix that can hold a document's bytes: the upload, what parsing derived, a quarantined copy."""
    upload = f"{UPLOAD_PREFIX}{user_id}/{document_id}/"
    return [upload, f"{DERIVED_PREFIX}{user_id}/{document_id}/", f"{QUARANTINE_PREFIX}{upload}"]


def delete_prefix(s3: S3Client, bucket: str, prefix: str) -> int:
    """Deletes every version and delete marker under ``prefix`` (versioning keeps overwritten and deleted
    objects otherwise). Returns how many were removed."""
    removed = 0
    with s3_errors("delete objects"):
        paginator = s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            entries = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            targets = [{"Key": e["Key"], "VersionId": e["VersionId"]} for e in entries if e["Key"].startswith(prefix)]
            for start in range(0, len(targets), 1000):
                batch = targets[start : start + 1000]
                response = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})  # type: ignore[typeddict-item]
                if response.get("Errors"):
                    raise DependencyUnavailable("some objects could not be deleted", code=ErrorCode.S3_UNAVAILABLE)
                removed += len(batch)
    return removed


def quarantine(s3: S3Client, bucket: str, key: str, version_id: str | None, reason: str) -> str:
    """Moves an upload that failed validation out of uploads/: copied under quarantine/ (tagged with the
    reason code, kept for review) and its version deleted from the upload key. Returns the new key."""
    target = f"{QUARANTINE_PREFIX}{key}"
    source: dict[str, str] = {"Bucket": bucket, "Key": key}
    if version_id:
        source["VersionId"] = version_id
    with s3_errors("quarantine upload"):
        s3.copy_object(
            Bucket=bucket,
            Key=target,
            CopySource=source,  # type: ignore[arg-type]
            TaggingDirective="REPLACE",
            Tagging=f"docintake-quarantine={reason}",
        )
        if version_id:
            s3.delete_object(Bucket=bucket, Key=key, VersionId=version_id)
        else:
            s3.delete_object(Bucket=bucket, Key=key)
    return target


def first_key_under(s3: S3Client, bucket: str, prefix: str) -> str | None:
    """The first object key under ``prefix``, or None. A listing (s3:ListBucket on the prefix) rather than
    a HeadObject: without ListBucket, S3 answers a missing key with 403, indistinguishable from a denial."""
    with s3_errors("list objects"):
        contents = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("Contents", [])
    return contents[0]["Key"] if contents else None
