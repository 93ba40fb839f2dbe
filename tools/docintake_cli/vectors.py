"""`docintake reembed` and `docintake vectors index`: the vector tables, run by an operator against the database."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any
from uuid import UUID

from docintake_cli import running


def add_commands(commands: Any) -> None:
    reembed = commands.add_parser(
        "reembed",
        help="embed documents with another model beside the current one, then switch each user whose documents"
        " all have it; --activate switches (or rolls back) only, --finalize drops the other models' vectors",
    )
    reembed.add_argument("--model", required=True, help="model name stored with the vectors")
    reembed.add_argument("--dimensions", type=int, help="default: EMBEDDING_DIMENSIONS")
    reembed.add_argument(
        "--provider", choices=["hash", "wordllama", "minilm", "openai", "bedrock", "sentence-transformers"]
    )
    reembed.add_argument("--user", type=UUID, help="only this user's documents")
    action = reembed.add_mutually_exclusive_group()
    action.add_argument("--no-switch", action="store_true", help="embed only; users keep searching their model")
    action.add_argument(
        "--activate", action="store_true", help="switch users to the model without embedding (e.g. a rollback)"
    )
    action.add_argument(
        "--finalize", action="store_true", help="delete other models' vectors of the users searching this one"
    )
    reembed.add_argument("--json", action="store_true")
    reembed.set_defaults(run=_reembed)

    vectors = commands.add_parser("vectors", help="the vector tables").add_subparsers(
        dest="vectors_command", required=True
    )
    ann = vectors.add_parser(
        "index", help="opt in to an approximate (HNSW) index for a model (pgvector 0.8+; see docs/decisions.md)"
    )
    ann.add_argument("--model", required=True)
    ann.add_argument("--dimensions", type=int, required=True)
    ann.add_argument("--json", action="store_true")
    ann.set_defaults(run=_vectors_index)


def _reembed(args: argparse.Namespace) -> int:
    import psycopg
    from psycopg.rows import dict_row

    from docintake.config import load_settings
    from docintake.db import Database
    from docintake.embedding import embedder_from_settings
    from docintake.vectors import finalize_model, reembed_documents, switch_users
    from docintake_local.postgres import LocalDatabase

    settings = load_settings()
    update: dict[str, object] = {"embedding_model": args.model}
    if args.dimensions:
        update["embedding_dimensions"] = args.dimensions
    if args.provider:
        update["embedding_provider"] = args.provider
    target = settings.model_copy(update=update)
    model, dimensions = target.embedding_model, target.embedding_dimensions
    root, local = running.paths()
    database = LocalDatabase.start(local / "pgdata")
    database.migrate(root / "migrations")
    # The worker role does the writing, under RLS per user; DATABASE_WORKER_URL for a remote server.
    worker = Database(os.environ.get("DATABASE_WORKER_URL") or database.role_url("worker"))

    def progress(done: int, total: int) -> None:
        if not args.json:
            print(f"\rre-embedded {done}/{total} document(s)", end="", file=sys.stderr, flush=True)

    summary: dict[str, object] = {"model": model, "dimensions": dimensions}
    try:
        with psycopg.connect(database.admin_url, autocommit=True, row_factory=dict_row) as admin:
            if args.finalize:
                keep = [(settings.embedding_model, settings.embedding_dimensions)]
                finalized = finalize_model(admin, model, dimensions, keep=keep)
                summary |= {"deleted_vectors": finalized.deleted_vectors, "dropped_tables": finalized.dropped_tables}
            else:
                if not args.activate:
                    done = reembed_documents(
                        admin,
                        worker,
                        embedder_from_settings(target),
                        batch_size=settings.embed_batch_size,
                        user_id=args.user,
                        progress=progress,
                    )
                    summary |= {"documents": len(done), "vectors": sum(d.vectors for d in done)}
                if not args.no_switch:
                    switched = switch_users(admin, worker, model, dimensions, user_id=args.user)
                    summary |= {
                        "switched_users": sum(s.switched for s in switched),
                        "waiting_users": [
                            {"user_id": str(s.user_id), "missing": s.missing} for s in switched if not s.switched
                        ],
                    }
    finally:
        worker.close()
    if args.json:
        print(json.dumps(summary))
    else:
        print(file=sys.stderr)
        for key, value in summary.items():
            print(f"{key}: {value}")
        if not args.finalize and not args.no_switch:
            print(
                f"set EMBEDDING_MODEL={model} for new uploads; `--finalize` drops the old vectors (no rollback after)"
            )
    waiting = summary.get("waiting_users")
    return 1 if waiting and args.activate else 0


def _vectors_index(args: argparse.Namespace) -> int:
    import psycopg
    from psycopg.rows import dict_row

    from docintake.vectors import create_ann_index
    from docintake_local.postgres import LocalDatabase

    root, local = running.paths()
    database = LocalDatabase.start(local / "pgdata")
    database.migrate(root / "migrations")
    with psycopg.connect(database.admin_url, autocommit=True, row_factory=dict_row) as admin:
        try:
            name = create_ann_index(admin, args.model, args.dimensions)
        except RuntimeError as exc:
            print(json.dumps({"created": None, "reason": str(exc)}) if args.json else f"not created: {exc}")
            return 2
    print(json.dumps({"created": name}) if args.json else f"created {name}")
    return 0
