"""The `docintake` command: the database, the local stack, uploads, Docker-free invokes, policy fields, search,
the vector tables, the operators' commands and the demo. Each group of commands is a module with ``add_commands``,
which gives every leaf command its ``run``; this module only builds the parser and calls it."""

from __future__ import annotations

import argparse
import sys

from docintake_cli import documents, fields, files, local, operators, search, vectors

# Kept here for the commands' callers (tests, scripts) that read them from the entry point.
from docintake_cli.running import STATE_FILE, int_in_range

__all__ = ["STATE_FILE", "int_in_range", "main"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # `fields FILE` takes any file name, so its one subcommand is routed before argparse reads a name.
    if argv[:2] == ["fields", fields.REEXTRACT]:
        return fields.reextract(argv[2:])
    parser = argparse.ArgumentParser(prog="docintake", description=(__doc__ or "").split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for group in (local, documents, files, fields, search, vectors, operators):
        group.add_commands(commands)
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
