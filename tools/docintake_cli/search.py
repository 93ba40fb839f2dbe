"""`docintake search`: a user's top-k chunks for a question, through SearchFunction."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any
from uuid import UUID

from docintake_cli import running


def add_commands(commands: Any) -> None:
    search = commands.add_parser("search", help="a user's top-k chunks for a question, through SearchFunction")
    search.add_argument("query")
    search.add_argument("--user", type=UUID, required=True, help="the user id (the JWT subject)")
    search.add_argument("--k", type=int, default=5)
    search.add_argument(
        "--mode",
        choices=["hybrid", "vector", "keyword"],
        default="hybrid",
        help="hybrid (default): keyword and vector rankings fused; or one of them alone",
    )
    search.add_argument(
        "--type",
        action="append",
        dest="document_types",
        metavar="TYPE",
        help="only documents of this type (repeatable): policy, declarations, endorsement, benefit_summary, …",
    )
    search.add_argument(
        "--document",
        action="append",
        type=UUID,
        dest="document_ids",
        metavar="ID",
        help="only this document (repeatable)",
    )
    search.add_argument(
        "--where",
        action="append",
        type=field_filter,
        dest="where",
        metavar="FIELD<OP>VALUE",
        help='only documents whose policy fields match (repeatable, all must): "deductible<=1000",'
        ' "document_type=homeowners", "effective_date>=2026-01-01", "insurer=Acme Mutual"',
    )
    search.add_argument("--all-versions", action="store_true", help="also search versions a newer upload superseded")
    search.add_argument("--json", action="store_true", help="the API's JSON response alone on stdout")
    search.set_defaults(run=_search)


# The comparison of a --where, longest operators first so "<=" is not read as "<".
_WHERE = re.compile(r"^\s*(?P<field>[a-z_]+)\s*(?P<op><=|>=|==|=|<|>)\s*(?P<value>[^<>=\s].*?)\s*$")
_OPS = {"=": "eq", "==": "eq", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


def field_filter(text: str) -> dict[str, str]:
    """An argparse type: "deductible<=1000" as the search request's {"field", "op", "value"}; the API
    validates the field and the value (a bad one answers 400 with the reason)."""
    match = _WHERE.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not FIELD<OP>VALUE with OP one of =, <, <=, >, >=")
    return {"field": match["field"], "op": _OPS[match["op"]], "value": match["value"]}


def _search(args: argparse.Namespace) -> int:
    from docintake_local.client import UploadRefused, call_api

    request: dict[str, object] = {"query": args.query, "k": args.k, "mode": args.mode}
    if args.document_types:
        request["document_types"] = args.document_types
    if args.document_ids:
        request["document_ids"] = [str(document_id) for document_id in args.document_ids]
    if args.all_versions:
        request["include_superseded"] = True
    if args.where:
        request["where"] = args.where
    with running.local_stack(pollers=False) as stack:
        try:
            body = call_api(stack, "SearchFunction", "POST", "/search", args.user, request)
        except UploadRefused as exc:
            print(json.dumps(exc.body), file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps(body, ensure_ascii=False))
        return 0
    for rank, hit in enumerate(body["results"], start=1):
        pages = (
            f"p. {hit['page_start']}"
            if hit["page_start"] == hit["page_end"]
            else f"pp. {hit['page_start']}–{hit['page_end']}"
        )
        kind = f" ({hit['document_type']})" if hit.get("document_type") else ""
        print(
            f"{rank}. {hit['score']:.3f} [{hit['match']}]  {hit['filename']}{kind}, {pages}"
            f" — {' › '.join(hit['heading_path'])}"
        )
        if len(hit.get("sections") or []) > 1:  # the chunk spans sibling sections: name each under the parent
            print(f"   sections: {'; '.join(' › '.join(s[len(hit['heading_path']) :]) for s in hit['sections'])}")
        print(f"   {' '.join(hit['content'].split())[:200]}")
    return 0
