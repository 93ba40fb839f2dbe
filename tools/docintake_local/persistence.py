"""The local stack's S3 objects and queue messages on disk, so they outlive moto (which keeps them in memory).

moto 5 has no persistence of its own (its recorder replays HTTP calls, which cannot bring back version ids
or receive counts), and the pipeline relies on both: a job names the S3 version it validated, and SQS's
redrive counts receives. So the state is read from and written into moto's own backends, in this process
(the stack runs moto in a thread): every S3 version and every message, with its id and receive count.

Layout under the state folder:

- ``s3/<token>.pickle``: one object version (or delete marker), written once (versions never change);
- ``s3-index.json``: per bucket, per key, its versions' tokens in moto's order, rewritten on every save;
- ``sqs.pickle``: per queue name, its messages (invisible ones too), rewritten when they change.

Files are written to a temporary name and renamed, so a crash mid-save leaves the previous snapshot. Saving
runs every few seconds and once more at a clean stop; a hard kill loses what changed since the last save.
Restoring adds only what moto lacks (keys it has no versions of, messages whose id it does not hold): a
moto that outlived the stack already holds newer state, and a new one may already hold S3's test event.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("docintake.local")

ACCOUNT_ID = "123456789012"  # moto's default account: the local credentials map to it
FORMAT = 1


class StateUnavailable(RuntimeError):
    """The stack's S3 and SQS are not an in-process moto, so their state cannot be kept."""


@dataclass
class Restored:
    object_versions: int = 0
    messages: int = 0
    skipped_queues: int = 0  # queues the template no longer has

    def summary(self) -> str:
        return f"restored object_versions={self.object_versions} messages={self.messages}"


class MotoState:
    """Saves and restores one stack's bucket and queues (by name) from moto's in-process backends."""

    def __init__(self, folder: Path, bucket: str, queue_names: list[str], region: str) -> None:
        self.folder = folder
        self.bucket = bucket
        self.queue_names = queue_names
        self.region = region
        self._written: set[str] = set()
        self._lock = threading.Lock()
        self._last_messages: bytes | None = None

    # --- moto's backends ------------------------------------------------------------------------------

    def _bucket(self) -> Any:
        from moto.s3.models import s3_backends

        bucket = s3_backends[ACCOUNT_ID]["aws"].buckets.get(self.bucket)
        if bucket is None:
            raise StateUnavailable(f"bucket {self.bucket} is not in this process's moto")
        return bucket

    def _queues(self) -> dict[str, Any]:
        from moto.sqs.models import sqs_backends

        queues = sqs_backends[ACCOUNT_ID][self.region].queues
        return {name: queues[name] for name in self.queue_names if name in queues}

    def check(self) -> None:
        """Raises StateUnavailable unless this stack's resources live in this process's moto."""
        self._bucket()
        if len(self._queues()) != len(self.queue_names):
            raise StateUnavailable("the stack's queues are not in this process's moto")

    # --- saving ---------------------------------------------------------------------------------------

    def save(self) -> None:
        with self._lock:
            (self.folder / "s3").mkdir(parents=True, exist_ok=True)
            self._save_objects()
            self._save_messages()

    def _save_objects(self) -> None:
        index: dict[str, list[str]] = {}
        for key, versions in list(self._bucket().keys.lists()):
            tokens = []
            for version in list(versions):
                token = _token(key, str(version.version_id))
                if token not in self._written:
                    path = self.folder / "s3" / f"{token}.pickle"
                    if not path.exists():
                        _write_atomically(path, pickle.dumps(version, protocol=pickle.HIGHEST_PROTOCOL))
                    self._written.add(token)
                tokens.append(token)
            index[key] = tokens
        _write_atomically(
            self.folder / "s3-index.json",
            json.dumps({"format": FORMAT, "buckets": {self.bucket: index}}).encode(),
        )
        # Versions deleted since (a document deleted, an upload quarantined) go from the disk as well.
        kept = {token for tokens in index.values() for token in tokens}
        for path in (self.folder / "s3").glob("*.pickle"):
            if path.stem not in kept:
                path.unlink(missing_ok=True)
                self._written.discard(path.stem)

    def _save_messages(self) -> None:
        state: dict[str, list[Any]] = {}
        for name, queue in self._queues().items():
            with queue._messages_lock:
                state[name] = list(queue._messages)
        data = pickle.dumps({"format": FORMAT, "queues": state}, protocol=pickle.HIGHEST_PROTOCOL)
        if data != self._last_messages:
            _write_atomically(self.folder / "sqs.pickle", data)
            self._last_messages = data

    # --- restoring ------------------------------------------------------------------------------------

    def restore(self) -> Restored:
        restored = Restored()
        with self._lock:
            self._restore_objects(restored)
            self._restore_messages(restored)
        return restored

    def _restore_objects(self, restored: Restored) -> None:
        path = self.folder / "s3-index.json"
        if not path.exists():
            return
        index = json.loads(path.read_text()).get("buckets", {}).get(self.bucket, {})
        bucket = self._bucket()
        for key, tokens in index.items():
            if bucket.keys.getlist(key):
                continue  # this moto outlived the stack: what it holds of the key is newer
            versions = []
            for token in tokens:
                file = self.folder / "s3" / f"{token}.pickle"
                if not file.exists():
                    log.warning("a saved object version is missing from the state folder; skipped")
                    continue
                versions.append(pickle.loads(file.read_bytes()))  # noqa: S301 - written by save() into our own folder
                self._written.add(token)
            if versions:
                bucket.keys.setlist(key, versions)
                restored.object_versions += len(versions)

    def _restore_messages(self, restored: Restored) -> None:
        path = self.folder / "sqs.pickle"
        if not path.exists():
            return
        saved = pickle.loads(path.read_bytes())  # noqa: S301 - written by save() into our own folder
        queues = self._queues()
        for name, messages in saved.get("queues", {}).items():
            queue = queues.get(name)
            if queue is None:
                restored.skipped_queues += 1
                continue
            with queue._messages_lock:
                held = {message.id for message in queue._messages}
            messages = [message for message in messages if message.id not in held]
            for message in messages:
                # Whoever held it invisible is gone with the old stack: SQS would show it again once its
                # visibility timeout ran out, and here that time has passed. Its receive count stays, so
                # the redrive policy still counts earlier attempts.
                message.visible_at = 0.0
            with queue._messages_lock:
                queue._messages.extend(messages)
                queue._messages_lock.notify_all()
            restored.messages += len(messages)


def _token(key: str, version_id: str) -> str:
    return hashlib.sha256(f"{key}\0{version_id}".encode()).hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def forget_in_moto(bucket: str, queue_names: list[str], region: str) -> None:
    """Drops the bucket and queues from this process's moto: what a restart of moto loses. The chaos suite
    and tests use it to restart a stack against a moto server that other stacks share."""
    from moto.s3.models import s3_backends
    from moto.sqs.models import sqs_backends

    s3_backends[ACCOUNT_ID]["aws"].buckets.pop(bucket, None)
    s3_backends.bucket_accounts.pop(bucket, None)  # moto's name → account registry, as delete_bucket does
    queues = sqs_backends[ACCOUNT_ID][region].queues
    for name in queue_names:
        queues.pop(name, None)
