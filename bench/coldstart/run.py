"""Cold start: each function's handler module imported the way Lambda does it, from `sam build`'s output.

For every function in template.yaml, a fresh ``python3.11 -S -X importtime -c "import app"`` runs with only
the function's code and its two layers on the path (no site-packages), Lambda-like variables (so
Powertools' Tracer is enabled and imports the X-Ray SDK) and PYTHONDONTWRITEBYTECODE, as Lambda cannot
write bytecode to its read-only code: what is measured is what the build ships (``make build`` compiles
it). It reports the median over runs of:

- ``import``: the cumulative ``-X importtime`` of ``app`` (module imports and module-level code: settings,
  clients, the parser's sandbox), against the same measure of a bare ``import boto3, psycopg, pydantic``
  run just before it (the median of the pairs' ratios);
- ``unzipped``: the function's code plus its layers, in MB, against Lambda's 250 MB limit and the 100 MB
  target.

Targets: import ≤ 1.5× the bare imports for the API functions (Upload, Documents, Search: a user waits for their
cold start; the queue workers' reaches no one and is reported only); every function ≤ 100 MB unzipped.
``--strict`` fails on a miss.

On a busy machine the wall clock drifts by ±0.2× between runs: ``--instructions`` counts the instructions each
import runs under valgrind instead (one run each, about a minute), which no neighbour's load moves.
``--functions`` measures only those (``--functions UploadFunction DocumentsFunction SearchFunction``: the API's).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / ".aws-sam" / "build"
OUT = ROOT / "bench" / "out" / "coldstart.md"
IMPORT_TARGET = 1.5
# The functions the import target binds (docs/decisions.md, "API cold start").
API_FUNCTIONS = frozenset({"UploadFunction", "DocumentsFunction", "SearchFunction"})
SIZE_TARGET_MB = 100.0
LAMBDA_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
    "LAMBDA_TASK_ROOT": "/var/task",
    "DATABASE_URL": "postgresql://bench@127.0.0.1:1/bench",
    "PARSE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-parse",
    "CHUNK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-chunk",
    "EMBED_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-embed",
    "POWERTOOLS_SERVICE_NAME": "docintake",
    "POWERTOOLS_METRICS_NAMESPACE": "docintake",
}


def _python() -> str:
    for candidate in ("python3.11", sys.executable):
        if subprocess.run([candidate, "--version"], capture_output=True).returncode == 0:
            return candidate
    raise SystemExit("python3.11 is needed (the Lambda runtime's version)")


def import_micros(python: str, path: list[Path], statement: str, top: set[str], env: dict[str, str]) -> int:
    """The summed cumulative ``-X importtime`` of the ``top`` modules imported by ``statement``."""
    result = subprocess.run(
        [python, "-S", "-X", "importtime", "-c", statement],
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.pathsep.join(map(str, path)),
            "PYTHONDONTWRITEBYTECODE": "1",
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{statement} failed: {result.stderr.strip().splitlines()[-1:]}")
    total = 0
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        if name in top:  # top-level: not indented
            total += int(cumulative)
    return total


def import_instructions(python: str, path: list[Path], statement: str, top: set[str], env: dict[str, str]) -> int:
    """The instructions (valgrind's count, in thousands) ``statement`` runs beyond an empty interpreter's start:
    a measure a busy machine cannot move, where ``-X importtime``'s wall clock drifts with the neighbours' load.
    ``top`` is unused: everything the statement runs is its import."""

    # The interpreter itself: valgrind counts the process it starts, not what a launcher (pyenv's shim) execs.
    interpreter = subprocess.run(
        [python, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True, check=True
    ).stdout.strip()

    def collected(code: str) -> int:
        result = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", interpreter, "-S", "-c", code],
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "PYTHONPATH": os.pathsep.join(map(str, path)),
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONHASHSEED": "0",
                **env,
            },
            capture_output=True,
            text=True,
            check=False,
        )
        found = re.search(r"Collected : (\d+)", result.stderr)
        if result.returncode != 0 or found is None:
            own = [line for line in result.stderr.splitlines() if not line.startswith("==")]  # not valgrind's
            raise RuntimeError(f"{code} failed under valgrind ({result.returncode}): {own[-3:]}")
        return int(found.group(1))

    return (collected(statement) - collected("pass")) // 1000


def bytecode_share(*folders: Path) -> float:
    """The share of the modules under ``folders`` that have bytecode for this Python next to them."""
    sources = [p for folder in folders for p in folder.rglob("*.py")]
    tag = sys.implementation.cache_tag
    compiled = [p for p in sources if (p.parent / "__pycache__" / f"{p.stem}.{tag}.pyc").exists()]
    return len(compiled) / max(len(sources), 1)


def size_mb(*folders: Path) -> float:
    return sum(p.stat().st_size for folder in folders for p in folder.rglob("*") if p.is_file()) / 1e6


def functions() -> list[str]:
    from docintake_local.template import load_template, resources_of_type

    return sorted(resources_of_type(load_template(ROOT / "template.yaml"), "AWS::Serverless::Function"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.coldstart", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, help="runs per function (default 7; 1 with --instructions)")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions under valgrind instead of timing (slow, ~1 min a run, but deterministic)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--functions", nargs="+", metavar="NAME", help="only these functions (e.g. the API's: UploadFunction …)"
    )
    parser.add_argument("--build", type=Path, default=BUILD, help="sam build's output (default: .aws-sam/build)")
    args = parser.parse_args(argv)
    build = args.build
    if not (build / "DepsLayer").exists():
        raise SystemExit("run `make build` first (sam build)")
    python = _python()
    if args.instructions and shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind")
    measure, unit = (import_instructions, "M instructions") if args.instructions else (import_micros, "ms")
    runs = args.runs or (1 if args.instructions else 7)
    layers = [build / "DepsLayer" / "python", build / "SharedLayer" / "python"]
    # Each function's runs alternate with runs of the bare imports, and its ratio is the median of the pairs'
    # ratios: the machine's speed drifts over a run by more than the differences measured here.
    bare_statement = ("import boto3, psycopg, pydantic", {"boto3", "psycopg", "pydantic"})
    bare_runs: list[int] = []
    rows = []
    names = functions()
    unknown = set(args.functions or ()) - set(names)
    if unknown:
        raise SystemExit(f"not functions of template.yaml: {', '.join(sorted(unknown))}")
    for name in args.functions or names:
        code = build / name
        env = {**LAMBDA_ENV, "AWS_LAMBDA_FUNCTION_NAME": name}
        pairs = []
        for _ in range(runs):
            bare_micros = measure(python, layers[:1], *bare_statement, {})
            pairs.append((measure(python, [code, *layers], "import app", {"app"}, env), bare_micros))
            bare_runs.append(bare_micros)
        millis = statistics.median(app for app, _ in pairs) / 1000
        ratio = statistics.median(app / bare_micros for app, bare_micros in pairs)
        rows.append((name, millis, ratio, size_mb(code, *[layer.parent for layer in layers])))
    bare = statistics.median(bare_runs) / 1000
    api_rows = [row for row in rows if row[0] in API_FUNCTIONS]
    lines = [
        f"# Cold start — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()},"
        f" {os.cpu_count()} cores, Python {platform.python_version()}",
        "",
        f"Bare `import boto3, psycopg, pydantic` from DepsLayer: **{bare:.0f} {unit}** (median of {len(bare_runs)},"
        " one before each handler run; × bare is the median of the pairs' ratios)."
        f" Modules shipped with bytecode: {bytecode_share(build):.0%}.",
        "",
        f"| function | import {unit} | × bare | unzipped MB |",
        "|---|---:|---:|---:|",
        *[f"| {name} | {ms:.0f} | {ratio:.2f}× | {mb:.1f} |" for name, ms, ratio, mb in rows],
        "",
        f"API functions' import ≤ {IMPORT_TARGET}× bare: "
        + (
            "ok"
            if all(r[2] <= IMPORT_TARGET for r in api_rows)
            else "MISSED (" + ", ".join(f"{r[0]} {r[2]:.2f}×" for r in api_rows if r[2] > IMPORT_TARGET) + ")"
        ),
        f"unzipped ≤ {SIZE_TARGET_MB:.0f} MB: "
        + ("ok" if all(r[3] <= SIZE_TARGET_MB for r in rows) else f"MISSED (largest {max(r[3] for r in rows):.1f} MB)"),
    ]
    report = "\n".join(lines)
    print(report)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(report + "\n", encoding="utf-8")
    missed = any(r[2] > IMPORT_TARGET for r in api_rows) or any(r[3] > SIZE_TARGET_MB for r in rows)
    return 1 if args.strict and missed else 0
