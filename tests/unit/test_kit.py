"""The test kit itself: the sample events it loads are the ones ``sam local invoke`` uses and parse at the edge,
and no test sees the developer's environment."""

from __future__ import annotations

import os
import uuid

import pytest

from docintake.config import Settings
from docintake.messages import StageMessage
from tests.conftest import use_suite_environment
from tests.kit import event, s3_event, stage_body

DEVELOPER_ENVIRONMENT = {
    "DATABASE_URL": "postgresql://master@prod.example.com/docintake",
    "AWS_PROFILE": "production",
    "AWS_ACCESS_KEY_ID": "AKIAREALKEY",
    "AWS_ENDPOINT_URL": "https://sqs.eu-west-1.amazonaws.com",
    "DOCINTAKE_TARGET": "aws",
    "EMBEDDING_PROVIDER": "openai",
    "EMBEDDING_MODEL": "text-embedding-3-large",
    "PARSER": "llamaparse",
    "LLAMAPARSE_API_KEY": "llx-real",
    "CHUNK_SIZE": "5",
    "POWERTOOLS_SERVICE_NAME": "someone-else",
}


@pytest.mark.parametrize("stage", ["parse", "chunk", "embed"])
def test_a_stage_body_is_the_sample_events_with_the_jobs_ids(stage: str) -> None:
    # GIVEN the ids of a job
    job_id, document_id, user_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    # WHEN its stage body is made from events/{stage}.json
    body = stage_body(stage, job_id=job_id, document_id=document_id, correlation_id="corr-1", user_id=user_id)
    # THEN it parses at the edge as that stage's message for that job, and the sample file is unchanged
    message = StageMessage.parse_body(body)
    assert (message.job_id, message.document_id, message.user_id) == (job_id, document_id, user_id)
    assert (message.stage, message.correlation_id) == (stage, "corr-1")
    assert str(job_id) not in event(stage)["Records"][0]["body"]


def test_an_s3_event_names_the_object_and_each_copy_is_a_test_own() -> None:
    # GIVEN the validate event for one key  WHEN a test changes its copy
    first = s3_event("bucket-1", "uploads/u/d/policy.pdf")
    first["Records"][0]["s3"]["object"]["key"] = "changed"
    # THEN the next copy is the sample's again, for the key asked, with no version id of the sample's
    again = s3_event("bucket-2", "uploads/u/d/other.pdf")["Records"][0]["s3"]
    assert (again["bucket"]["name"], again["object"]["key"]) == ("bucket-2", "uploads/u/d/other.pdf")
    assert "versionId" not in again["object"]
    assert event("validate")["Records"][0]["s3"]["object"]["key"] != "changed"


def test_no_test_reads_the_developers_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a developer's shell holding production settings, and one of the suite's own opt-ins
    for name, value in DEVELOPER_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DOCINTAKE_TEST_KEPT", "yes")
    # WHEN the environment-cleaning fixture's step runs, as it does before every test
    use_suite_environment(monkeypatch)
    # THEN none of the developer's variables is visible, and the suite's own are set
    assert sorted(set(DEVELOPER_ENVIRONMENT) & set(os.environ)) == ["EMBEDDING_PROVIDER"]
    assert os.environ["EMBEDDING_PROVIDER"] == "hash"
    assert os.environ["AWS_CONFIG_FILE"] == os.environ["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
    assert os.environ["DOCINTAKE_TEST_KEPT"] == "yes"
    # AND the settings every function reads are the defaults, with the suite's embedder
    settings = Settings()
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    assert (settings.database_url, settings.parser, settings.chunk_size) == (None, "local", defaults["chunk_size"])
    assert settings.embedding_provider == "hash"


def test_this_test_started_without_the_developers_environment() -> None:
    # GIVEN whatever the shell that started pytest held  THEN a test sees only the suite's settings
    assert not [name for name in os.environ if name in DEVELOPER_ENVIRONMENT and name != "EMBEDDING_PROVIDER"]
    assert os.environ["EMBEDDING_PROVIDER"] == "hash"
