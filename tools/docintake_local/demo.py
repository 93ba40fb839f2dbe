"""`docintake demo`: realistic insurance PDFs from a presigned upload to chunks and vectors, on this machine."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any, TextIO
from uuid import UUID

import httpx
import psycopg
from psycopg.rows import dict_row

from docintake.api import ApiError
from docintake.api.documents import get_document_fields
from docintake.db import Database
from docintake.fields import DocumentFields, FieldName, InsuranceDocumentType
from docintake_local.client import TERMINAL_STATES, document_status, search_as, upload_bytes
from docintake_local.sample_documents import sample_documents
from docintake_local.stack import LocalStack

# Two fixed demo users, so a second run replaces the first run's documents instead of adding to them.
ALICE = UUID("a11ce000-0000-4000-8000-000000000001")
BOB = UUID("b0b00000-0000-4000-8000-000000000002")
USERS = {ALICE: "alice", BOB: "bob"}


@dataclass
class Tracked:
    filename: str
    user_id: UUID
    document_id: UUID
    started: float
    status: dict[str, Any] | None = None
    finished: float | None = None


def run_demo(stack: LocalStack, *, count: int = 4, timeout: float = 300.0, out: TextIO = sys.stdout) -> int:
    purged = purge_users(stack, list(USERS))
    if purged:
        print(f"removed {purged} document(s) of an earlier demo run", file=out)
    documents = sample_documents(count)
    tracked: list[Tracked] = []
    with httpx.Client(timeout=60) as http:
        for index, sample in enumerate(documents):
            user = ALICE if index % 2 == 0 else BOB
            ticket = upload_bytes(stack, user, sample.filename, sample.data, "application/pdf", http=http)
            tracked.append(Tracked(sample.filename, user, ticket.document_id, time.monotonic()))
            print(
                f"uploaded {sample.filename} ({sample.pages} pages, {len(sample.data):,} bytes) as {USERS[user]}"
                " through a presigned PUT",
                file=out,
            )
    _watch(stack, tracked, timeout, out)
    _report(tracked, out)
    extracted = show_fields(stack, tracked, out)
    isolated = _show_isolation(stack, tracked, out)
    cited = _show_search(stack, out)
    ok = extracted and isolated and cited and all(t.status is not None and t.status["state"] == "done" for t in tracked)
    print("demo finished: every document is done" if ok else "demo FAILED", file=out)
    return 0 if ok else 1


def purge_users(stack: LocalStack, users: list[UUID]) -> int:
    """Removes the demo users' documents (rows cascade to jobs, chunks and vectors) and their objects."""
    with psycopg.connect(stack.database.admin_url, autocommit=True) as conn, conn.transaction():
        keys = [r[0] for r in conn.execute("SELECT s3_key FROM documents WHERE user_id = ANY(%s)", [users])]
        conn.execute("DELETE FROM events WHERE user_id = ANY(%s)", [users])
        conn.execute("DELETE FROM documents WHERE user_id = ANY(%s)", [users])
    s3 = stack.client("s3")
    for user in users:
        for prefix in (f"uploads/{user}/", f"derived/{user}/"):
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=stack.bucket, Prefix=prefix):
                for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
                    s3.delete_object(Bucket=stack.bucket, Key=version["Key"], VersionId=version["VersionId"])
    return len(keys)


def _watch(stack: LocalStack, tracked: list[Tracked], timeout: float, out: TextIO) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        for item in tracked:
            if item.finished is None:
                item.status = document_status(stack, item.user_id, item.document_id)
                if item.status is not None and item.status["state"] in TERMINAL_STATES:
                    item.finished = time.monotonic()
        line = "  ".join(
            f"{t.filename[:18]}:{(t.status or {}).get('stage', '?')}/{(t.status or {}).get('state', '?')}"
            for t in tracked
        )
        if line != last:
            print(f"  {line}", file=out)
            last = line
        if all(t.finished is not None for t in tracked):
            return
        time.sleep(0.25)


def _report(tracked: list[Tracked], out: TextIO) -> None:
    print(file=out)
    columns = ("document", "user", "stage", "state", "pages", "chunks", "vectors", "secs")
    widths = (-44, -6, -10, -13, 5, 6, 7, 6)
    header = " ".join(f"{name:{'<' if w < 0 else '>'}{abs(w)}}" for name, w in zip(columns, widths, strict=True))
    print(header, file=out)
    print("-" * len(header), file=out)
    for t in tracked:
        s = t.status or {}
        seconds = f"{t.finished - t.started:.1f}" if t.finished else "-"
        print(
            f"{t.filename[:44]:<44} {USERS[t.user_id]:<6} {s.get('stage', '?'):<10} {s.get('state', '?'):<13}"
            f" {s.get('page_count') or 0:>5} {s.get('chunk_count', 0):>6} {s.get('embedded_count', 0):>7} {seconds:>6}",
            file=out,
        )
        if s.get("last_error_code"):
            print(f"    error: {s['last_error_code']}", file=out)
    print(file=out)


# What the demo shows of each document's fields: who insures whom, under which number, when, for how much;
# for a summary of benefits also what a member pays before the plan does, and at most in a year.
_KEY_FIELDS = (FieldName.INSURER, FieldName.POLICY_NUMBER, FieldName.NAMED_INSURED)
_PLAN_FIELDS = (FieldName.DEDUCTIBLE, FieldName.OUT_OF_POCKET_LIMIT)


def show_fields(stack: LocalStack, tracked: list[Tracked], out: TextIO) -> bool:
    """Each document's policy fields as its owner reads them (GET /documents/{id}/fields' code, as the API
    role): its type and key values as written. True when every document has its fields."""
    print("policy fields, as each owner reads them (GET /documents/{id}/fields):", file=out)
    db = Database(stack.database.role_url("api"))
    complete = True
    try:
        for t in tracked:
            try:
                found = get_document_fields(db, t.user_id, t.document_id)
            except ApiError as refused:
                print(f"  {t.filename}: {refused.message}", file=out)
                complete = False
                continue
            print(f"  {t.filename}: {found.document_type} ({found.document_type_confidence:.0%})", file=out)

            shown = [*_KEY_FIELDS]
            if found.document_type == InsuranceDocumentType.SUMMARY_OF_BENEFITS:
                shown += _PLAN_FIELDS
            for name in shown:
                print(f"    {name.value.replace('_', ' '):<20} {_written(found, name)}", file=out)
            period = f"{_written(found, FieldName.EFFECTIVE_DATE)} to {_written(found, FieldName.EXPIRATION_DATE)}"
            print(f"    {'period':<20} {period}", file=out)
            print(f"    {'premium':<20} {_written(found, FieldName.PREMIUM)}", file=out)
            if found.coverages:
                print(f"    {'coverages':<20} {len(found.coverages)}", file=out)
    finally:
        db.close()
    print(file=out)
    return complete


def _written(found: DocumentFields, name: FieldName) -> str:
    """A field's value as the document wrote it, "-" when none was found."""
    value = found.fields.get(name)
    return value.text if value is not None else "-"


@dataclass(frozen=True)
class DemoQuestion:
    """A question asked in a user's own words, with where its answer is: the document (by filename stem)
    and a word the answering passage holds, in the policy's own terms."""

    user: UUID
    question: str
    document_stem: str
    answer_word: str


DEMO_QUESTIONS = (
    DemoQuestion(ALICE, "my house sat empty for months while I travelled, am I still covered?", "homeowners", "vacant"),
    DemoQuestion(BOB, "someone crashed into my car, what pays for the damage to it?", "auto", "collision"),
)


def _show_search(stack: LocalStack, out: TextIO) -> bool:
    """Each user asks in lay words: the top chunks, each cited by document, pages and section; the answer
    must be among them, from the right policy."""
    found = []
    for asked in DEMO_QUESTIONS:
        results = search_as(stack, asked.user, asked.question, k=3)["results"]
        print(f'\nsearch as {USERS[asked.user]}: "{asked.question}"', file=out)
        for rank, hit in enumerate(results, start=1):
            pages = (
                f"p. {hit['page_start']}"
                if hit["page_start"] == hit["page_end"]
                else f"pp. {hit['page_start']}–{hit['page_end']}"
            )
            where = " › ".join(hit["heading_path"])
            print(f"  {rank}. {hit['score']:.3f}  {hit['filename']}, {pages} — {where}", file=out)
            print(f"     {' '.join(hit['content'].split())[:110]}…", file=out)
        answered = any(
            hit["filename"].startswith(asked.document_stem) and asked.answer_word in hit["content"].lower()
            for hit in results
        )
        print(f"  {'answered' if answered else 'NOT answered'} from the {asked.document_stem} policy", file=out)
        found.append(
            answered
            and all(hit["document_id"] in {str(d) for d in _documents_of(stack, asked.user)} for hit in results)
        )
    return all(found)


def _documents_of(stack: LocalStack, user: UUID) -> list[UUID]:
    with psycopg.connect(stack.database.admin_url) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM documents WHERE user_id = %s", [user])]


def _show_isolation(stack: LocalStack, tracked: list[Tracked], out: TextIO) -> bool:
    """Reads as the API role (not an owner, no BYPASSRLS): each user sees only their own chunks."""
    alice_docs = [t.document_id for t in tracked if t.user_id == ALICE]
    seen: dict[str, int] = {}
    with psycopg.connect(stack.database.role_url("api"), autocommit=True, row_factory=dict_row) as conn:
        for name, user in (("alice", ALICE), ("bob", BOB), ("no user", None)):
            with conn.transaction():
                if user is not None:
                    conn.execute("SELECT set_config('app.user_id', %s, true)", [str(user)])
                row = conn.execute(
                    "SELECT count(*) AS n FROM document_chunks WHERE document_id = ANY(%s)", [alice_docs]
                ).fetchone()
                seen[name] = int(row["n"]) if row else 0
    print("row-level security, as role docintake_api — chunks of alice's documents visible to:", file=out)
    for name, n in seen.items():
        print(f"  {name:<8} {n}", file=out)
    return seen["alice"] > 0 and seen["bob"] == 0 and seen["no user"] == 0
