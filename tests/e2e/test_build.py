"""The deployment artifact: `make build` (sam build, then bytecode) gives code that imports on its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from docintake_local.template import load_template, resources_of_type

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


# Modules that need the SemanticLayer (numpy and the model files), which only Embed and Search carry.
SEMANTIC_MODULES = {"docintake.embedding.minilm", "docintake.embedding.wordllama", "docintake.embedding.packaged"}


def test_the_shared_layer_is_the_runtime_package_alone_and_every_module_imports_from_the_layers() -> None:
    # GIVEN the build (the test above runs `make build`; run it here if this test runs alone)
    layer = BUILD / "SharedLayer" / "python"
    if not layer.exists():
        built = subprocess.run(["make", "build"], cwd=ROOT, capture_output=True, text=True, check=False)
        assert built.returncode == 0, built.stderr[-2000:]
    # THEN the layer holds the runtime package and nothing of the tooling (the local stack, the CLI)
    assert sorted(p.name for p in layer.iterdir() if p.name != "__pycache__") == ["docintake"]
    modules = sorted(
        ".".join(path.relative_to(layer).with_suffix("").parts).removesuffix(".__init__")
        for path in (layer / "docintake").rglob("*.py")
    )
    assert len(modules) > 40 and not [m for m in modules if m.startswith(("docintake.local", "docintake.cli"))]
    # AND each module imports with the deps layer alone (the embedders' modules with the semantic layer too),
    # so nothing in the layer reaches for moto, reportlab, pgserver, yaml or another development package
    probe = (
        "import importlib, sys\n"
        "failed = []\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed.append(f'{name}: {exc!r}')\n"
        "development = sorted(m for m in ('moto', 'reportlab', 'pgserver', 'yaml', 'pytest') if m in sys.modules)\n"
        "print(failed, development)\n"
        "sys.exit(1 if failed or development else 0)\n"
    )
    for names, layers in (
        ([m for m in modules if m not in SEMANTIC_MODULES], ["DepsLayer"]),
        (sorted(SEMANTIC_MODULES), ["DepsLayer", "SemanticLayer"]),
    ):
        path = os.pathsep.join(str(BUILD / name / "python") for name in [*layers, "SharedLayer"])
        env = {**LAMBDA_ENV, "PATH": os.environ["PATH"], "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
        imported = subprocess.run(
            [sys.executable, "-S", "-c", probe, *names], env=env, capture_output=True, text=True, check=False
        )
        assert imported.returncode == 0, f"{layers}: {imported.stdout[-1500:]} {imported.stderr[-1500:]}"
