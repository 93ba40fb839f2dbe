"""The API functions' cold start: each handler module, imported as Lambda imports it, loads only what its
routes use (issue 17 item 7; `make bench-coldstart` times it against bare boto3 + psycopg + pydantic).

A user waits for an API function's cold start, so what one route needs must not land in another function's
import: the stage machine, parsing, the embedders' models, S3 and SQS where nothing reads or sends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Lambda's variables (so Powertools' Tracer is enabled, as deployed) and the settings the handlers read at import.
LAMBDA_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
    "LAMBDA_TASK_ROOT": "/var/task",
    "DATABASE_URL": "postgresql://test@127.0.0.1:1/test",
    "PARSE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/test-parse",
    "CHUNK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/test-chunk",
    "EMBED_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/test-embed",
    "POWERTOOLS_SERVICE_NAME": "docintake",
}

# No API function parses, chunks, embeds a document or runs operators' tooling; none needs the type stubs.
NEVER = (
    "numpy",
    "pypdfium2",
    "docx",
    "lxml",
    "yaml",
    "docintake.parsing",
    "docintake.chunking",
    "docintake.operations",
    "docintake.sweeper",
    "docintake.dead_letters",
    "docintake_local",
    "docintake_cli",
    "docintake.embedding.minilm",
    "docintake.embedding.wordllama",
    "docintake.embedding.openai",
    "docintake.embedding.bedrock",
    "docintake.embedding.sentence_transformers",
    "mypy_boto3_s3",
    "mypy_boto3_sqs",
)
SEARCH_ONLY = ("docintake.api.search", "docintake.search", "docintake.vectors", "docintake.glossary")
UPLOAD_ONLY = ("docintake.api.uploads",)
DOCUMENTS_ONLY = ("docintake.api.documents", "docintake.status")
STAGE_MACHINE = ("docintake.jobs", "docintake.messages", "docintake.queues", "docintake.metrics", "docintake.storage")

# What each function's import must not load. Search reads the database and embeds the question: no stage machine,
# no storage, and httpx (the OpenAI-compatible embedder's) only when that provider is configured.
EXCLUDED = {
    "UploadFunction": (*NEVER, *SEARCH_ONLY, *DOCUMENTS_ONLY, "docintake.document_types", "httpx"),
    "DocumentsFunction": (*NEVER, *SEARCH_ONLY, *UPLOAD_ONLY, "docintake.document_types", "httpx"),
    "SearchFunction": (*NEVER, *UPLOAD_ONLY, *DOCUMENTS_ONLY, *STAGE_MACHINE, "httpx"),
}
HANDLER_DIRECTORIES = {"UploadFunction": "upload", "DocumentsFunction": "documents", "SearchFunction": "search"}

# Prints the loaded modules that were excluded, whether boto3 built a client through its default session, and which
# of the function's S3 and SQS clients exist (built at start; one built on first use is not, until a request uses it).
PROBE = """
import json, sys
excluded = json.loads(sys.argv[1])
import app
import boto3
from docintake.aws import ClientOnFirstUse
loaded = sorted(m for m in excluded if m in sys.modules or any(k.startswith(m + ".") for k in sys.modules))
pipeline = getattr(app, "pipeline", None)
clients = [getattr(pipeline, name, None) for name in ("s3", "sqs")]
built = [
    name
    for name, client in zip(("s3", "sqs"), clients)
    if client is not None and not (isinstance(client, ClientOnFirstUse) and not client.built)
]
print(json.dumps({"loaded": loaded, "boto3_client": boto3.DEFAULT_SESSION is not None, "built": built}))
"""


# Each probe: a function, the variables it adds, and the modules to look for.
PROBES = {
    **{function: (function, {}, excluded) for function, excluded in EXCLUDED.items()},
    "SearchFunction+openai": ("SearchFunction", {"EMBEDDING_PROVIDER": "openai", "OPENAI_API_KEY": "test"}, ("httpx",)),
}


@pytest.fixture(scope="module")
def probes() -> dict[str, dict]:
    """Every probe's answer; the processes run at once (each is a whole cold start, about a second)."""
    running = {}
    for name, (function, extra, excluded) in PROBES.items():
        code = ROOT / "functions" / HANDLER_DIRECTORIES[function]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.pathsep.join([str(code), str(ROOT / "shared")]),
            "AWS_LAMBDA_FUNCTION_NAME": function,
            **LAMBDA_ENVIRONMENT,
            **extra,
        }
        running[name] = subprocess.Popen(
            [sys.executable, "-c", PROBE, json.dumps(excluded)],
            env=env,
            cwd=code,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    answers = {}
    for name, process in running.items():
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, f"{name}: {err[-2000:]}"
        answers[name] = json.loads(out.strip().splitlines()[-1])
    return answers


@pytest.mark.parametrize("function", sorted(EXCLUDED))
def test_an_api_function_imports_only_what_its_routes_use(probes: dict[str, dict], function: str) -> None:
    # GIVEN an API function's handler module, in a fresh process with Lambda's variables
    # WHEN it is imported, as on a cold start
    # THEN none of what its routes never use was loaded
    assert probes[function]["loaded"] == []


def test_search_builds_no_aws_client_and_traces_httpx_only_for_an_http_embedder(probes: dict[str, dict]) -> None:
    # GIVEN SearchFunction with the default embedder (MiniLM, offline) and with the OpenAI-compatible one
    # WHEN each is imported
    # THEN the default built no boto3 client (no S3, no SQS: search reads the database only) and left httpx alone
    assert probes["SearchFunction"] == {"loaded": [], "boto3_client": False, "built": []}
    # AND the OpenAI-compatible embedder's httpx is loaded (and traced), as its requests go over it
    assert probes["SearchFunction+openai"]["loaded"] == ["httpx"]


def test_upload_and_documents_build_no_aws_client_at_start(probes: dict[str, dict]) -> None:
    # GIVEN UploadFunction, which presigns a PUT with its own signer from Lambda's credentials (presign.py) and
    # never sends to SQS, and DocumentsFunction, which needs S3 and SQS only to delete a document or retry it
    # WHEN each is imported, as on a cold start
    # THEN Upload built neither client, nor botocore's default session: its S3 client waits for a URL our signer
    # hands to botocore
    assert probes["UploadFunction"]["built"] == []
    assert probes["UploadFunction"]["boto3_client"] is False
    # AND Documents built neither: each is built when a delete or a retry first uses it
    assert probes["DocumentsFunction"]["built"] == []
    assert probes["DocumentsFunction"]["boto3_client"] is False
