"""`docintake upload` and `docintake documents …`: a user's own documents, through the API functions."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

from docintake_cli import running


def add_commands(commands: Any) -> None:
    upload = commands.add_parser("upload", help="upload a file as a user through UploadFunction and a presigned URL")
    upload.add_argument("file", type=Path)
    upload.add_argument("--user", type=UUID, required=True, help="the user id (the JWT subject)")
    upload.add_argument("--content-type", help="default: from the file name")
    upload.add_argument("--wait", action="store_true", help="wait for the pipeline and print the final status")
    upload.add_argument("--timeout", type=float, default=300.0)
    upload.add_argument(
        "--replace", action="store_true", help="upload even if the user already has this file (default: duplicate_of)"
    )
    upload.add_argument("--supersedes", type=UUID, metavar="DOCUMENT_ID", help="the upload is a new version of it")
    upload.add_argument("--json", action="store_true", help="one JSON object (with --wait, the final status in it)")
    upload.set_defaults(run=_upload)

    documents = commands.add_parser("documents", help="a user's own documents, through the API").add_subparsers(
        dest="documents_command", required=True
    )
    documents_list = documents.add_parser("list", help="the user's documents, newest first (GET /documents)")
    documents_list.add_argument("--user", type=UUID, required=True, help="the user id (the JWT subject)")
    documents_list.add_argument("--limit", type=int, default=20)
    documents_list.add_argument("--cursor", help="next_cursor of the previous page")
    documents_list.add_argument("--json", action="store_true")
    documents_show = documents.add_parser("show", help="status, progress and any error (GET /documents/{id})")
    documents_show.add_argument("document_id")
    documents_show.add_argument("--user", type=UUID, required=True, help="the user id (the JWT subject)")
    documents_show.add_argument("--json", action="store_true")
    documents_retry = documents.add_parser("retry", help="resume a failed document (POST /documents/{id}/retry)")
    documents_retry.add_argument("document_id")
    documents_retry.add_argument("--user", type=UUID, required=True, help="the user id (the JWT subject)")
    documents_retry.add_argument("--wait", action="store_true", help="wait for the pipeline and print the result")
    documents_retry.add_argument("--json", action="store_true")
    documents_fields = documents.add_parser(
        "fields", help="the policy fields the pipeline extracted: type, values with evidence, coverages"
    )
    documents_fields.add_argument("document_id", type=UUID)
    documents_fields.add_argument("--user", type=UUID, required=True, help="the user id (the JWT subject)")
    documents_fields.add_argument("--json", action="store_true", help="the stored fields as GET /documents/{id}/fields")
    documents_fields.set_defaults(run=_document_fields)
    documents_delete = documents.add_parser("delete", help="delete a document everywhere (DELETE /documents/{id})")
    documents_delete.add_argument("document_id")
    documents_delete.add_argument("--user", type=UUID, required=True, help="the user id (the JWT subject)")
    documents_delete.add_argument("--json", action="store_true")
    for command in (documents_list, documents_show, documents_retry, documents_delete):
        command.set_defaults(run=_documents)


def _upload(args: argparse.Namespace) -> int:
    from docintake_local.client import AlreadyUploaded, UploadRefused, content_type_for, upload_bytes, wait_for

    data = args.file.read_bytes()
    content_type = args.content_type or content_type_for(args.file)
    with running.local_stack(pollers=True) as stack:
        try:
            ticket = upload_bytes(
                stack,
                args.user,
                args.file.name,
                data,
                content_type,
                replace=args.replace,
                supersedes=args.supersedes,
            )
            result: dict[str, object] = {
                "document_id": str(ticket.document_id),
                "job_id": str(ticket.job_id),
                "key": ticket.key,
                "supersedes": str(ticket.supersedes) if ticket.supersedes else None,
            }
            document_id = ticket.document_id
        except AlreadyUploaded as exc:
            result = exc.duplicate.model_dump(mode="json")
            document_id = exc.duplicate.document_id
        except UploadRefused as exc:
            print(json.dumps(exc.body), file=sys.stderr)
            return 2
        if not args.json:
            print(_upload_line(result))
        if not args.wait:
            if args.json:
                print(json.dumps(result))
            return 0
        status = wait_for(stack, args.user, [document_id], timeout=args.timeout)
    final = status.get(document_id, {})
    if args.json:
        print(json.dumps({**result, "final": final}, default=str))
    else:
        error = f" ({final['last_error_code']})" if final.get("last_error_code") else ""
        print(f"{final.get('status')}: stage {final.get('stage')}, {final.get('state')}{error}")
    return 0 if final.get("state") == "done" else 1


def _upload_line(result: dict[str, object]) -> str:
    if result.get("duplicate_of"):
        return (
            f"duplicate_of {result['duplicate_of']} ({result['status']}): you already have this file;"
            " --replace uploads another copy"
        )
    version = f", a new version of {result['supersedes']}" if result.get("supersedes") else ""
    return f"uploaded {result['document_id']} (job {result['job_id']}){version}"


def _documents(args: argparse.Namespace) -> int:
    from docintake_local.client import UploadRefused, delete_as, list_as, retry_as, show_as, wait_for

    command = args.documents_command
    with running.local_stack(pollers=command == "retry" and args.wait) as stack:
        try:
            if command == "list":
                result = list_as(stack, args.user, limit=args.limit, cursor=args.cursor)
            elif command == "show":
                result = show_as(stack, args.user, args.document_id)
            elif command == "retry":
                result = retry_as(stack, args.user, args.document_id)
                if args.wait:
                    wait_for(stack, args.user, [UUID(args.document_id)])
                    result = show_as(stack, args.user, args.document_id)
            else:
                result = delete_as(stack, args.user, args.document_id)
        except UploadRefused as exc:
            print(json.dumps(exc.body), file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps(result))
    else:
        _print_documents(command, result)
    return 0


def _document_fields(args: argparse.Namespace) -> int:
    """What GET /documents/{id}/fields answers, read by the API's own code as the API role (under RLS)."""
    from docintake.api import ApiError
    from docintake.api.documents import get_document_fields
    from docintake.db import Database
    from docintake_cli.fields import print_fields

    with running.local_stack(pollers=False) as stack:
        db = Database(stack.database.role_url("api"))
        try:
            result = get_document_fields(db, args.user, args.document_id).model_dump(mode="json")
        except ApiError as exc:
            print(exc.body_json(), file=sys.stderr)
            return 2
        finally:
            db.close()
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"document {result['document_id']}")
        print_fields(result)
    return 0


def _print_documents(command: str, result: dict[str, Any]) -> None:
    """What `documents list|show|retry|delete` print without --json."""
    if command == "list":
        for item in result["documents"]:
            print(_document_line(item))
        if result["next_cursor"]:
            print(f"more: --cursor {result['next_cursor']}")
    elif command == "delete":
        print(f"deleted {result['document_id']}: {result['objects_removed']} object version(s) removed")
    else:
        print(_document_line(result))
        if result["error"]:
            error = result["error"]
            advice = "retry can help" if error["retryable"] else "retry will not help"
            print(f"  {error['code']}: {error['message']} ({advice})")
        for line in _parse_notes(result):
            print(line)
        for line in _version_notes(result):
            print(line)


def _version_notes(view: dict[str, object]) -> list[str]:
    """The document's type and its versions, under `documents show`."""
    lines = [f"  type: {view['document_type']}"] if view.get("document_type") else []
    if view.get("supersedes"):
        lines.append(f"  supersedes: {view['supersedes']}")
    if view.get("superseded_by"):
        lines.append(f"  superseded_by: {view['superseded_by']} (search uses that version)")
    return lines


def _parse_notes(view: dict[str, object]) -> list[str]:
    """What parsing noticed, under `documents show`: OCR'd pages with their mean confidence, and warnings."""
    lines: list[str] = []
    confidences = view.get("page_confidence")
    if isinstance(confidences, list) and confidences:
        pages = ", ".join(f"{p['page']} ({float(p['confidence']):.0%})" for p in confidences)
        lines.append(f"  OCR'd pages (mean confidence): {pages}")
    warnings = view.get("warnings")
    if isinstance(warnings, list) and warnings:
        lines.append(f"  warnings: {', '.join(map(str, warnings))}")
    return lines


def _document_line(item: dict[str, Any]) -> str:
    """One line of `documents list` (or `show`), from the API's JSON."""
    return (
        f"{item['document_id']}  {item['status']:<10} {item['stage']:<16} {float(item['progress']):>4.0%}"
        f"  {item['page_count'] or '-':>4} p. {item['chunk_count']:>5} chunks  {item['filename']}"
    )
