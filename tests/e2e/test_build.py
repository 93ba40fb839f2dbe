"""The deployment artifact: `make build` (sam build, then bytecode) gives code that imports on its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from docintake.local.template import load_template, resources_of_type

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / ".aws-sam" / "build"
# What a Lambda container has: its variables, no network needed at import.
LAMBDA_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
    "LAMBDA_TASK_ROOT": "/var/task",
    "DATABASE_URL": "postgresql://build-test@127.0.0.1:1/none",
    "PARSE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/parse",
    "CHUNK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/chunk",
    "EMBED_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/embed",
    "POWERTOOLS_SERVICE_NAME": "docintake",
}


def test_the_build_ships_bytecode_and_every_handler_imports_from_its_code_and_layers() -> None:
    # WHEN the artifact is built as for a deploy
    built = subprocess.run(["make", "build"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr[-2000:]
    # THEN every module has bytecode for this Python next to it (Lambda's code is read-only, so a module
    # without it is compiled again on every cold start)
    sources = list(BUILD.rglob("*.py"))
    tag = sys.implementation.cache_tag
    missing = [p for p in sources if not (p.parent / "__pycache__" / f"{p.stem}.{tag}.pyc").exists()]
    assert len(sources) > 500 and missing == []
    # AND each function's handler imports with only its code and the two layers on the path, writing nothing
    functions = resources_of_type(load_template(ROOT / "template.yaml"), "AWS::Serverless::Function")
    layers = [BUILD / "DepsLayer" / "python", BUILD / "SharedLayer" / "python"]
    for name in sorted(functions):
        path = os.pathsep.join(str(p) for p in [BUILD / name, *layers])
        env = {**LAMBDA_ENV, "PATH": os.environ["PATH"], "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
        env["AWS_LAMBDA_FUNCTION_NAME"] = name
        imported = subprocess.run(
            [sys.executable, "-S", "-c", "import app; assert callable(app.lambda_handler)"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert imported.returncode == 0, f"{name}: {imported.stderr[-1500:]}"
