"""The LlamaParse provider against a fake of its documented API: upload, polling under the heartbeat, results with
a page map, and every failure turned into a stable code — with a fake clock, so no test waits or reaches the network."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import pytest
from pydantic import SecretStr

from docintake.config import Settings
from docintake.errors import (
    DependencyUnavailable,
    LeaseLost,
    PermanentError,
    TransientError,
    UnsupportedDocument,
)
from docintake.http_retries import retry_after_seconds
from docintake.parsing import PageMap, parser_from_settings
from docintake.parsing.llamaparse import LlamaParseParser, api_key_from_settings
from tests.fakes.llamaparse_fake import API_KEY, BASE_URL, FakeClock, FakeLlamaParse

PDF = b"%PDF-1.7\n% a policy\n%%EOF\n"
POLL = 2.0
TIMEOUT = 10.0


class Heartbeats:
    """Counts calls; raises LeaseLost from call ``lose_at`` on."""

    def __init__(self, lose_at: int | None = None) -> None:
        self.calls = 0
        self.lose_at = lose_at

    def __call__(self) -> None:
        self.calls += 1
        if self.lose_at is not None and self.calls >= self.lose_at:
            raise LeaseLost("lease lost while working")


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "parser": "llamaparse",
        "llamaparse_api_key": SecretStr(API_KEY),
        "llamaparse_base_url": BASE_URL,
        "llamaparse_poll_interval_seconds": POLL,
        "llamaparse_timeout_seconds": TIMEOUT,
        "max_pages": 50,
    } | overrides
    return Settings(**values)


def parser_for(fake: FakeLlamaParse, clock: FakeClock, **overrides: Any) -> LlamaParseParser:
    return LlamaParseParser.from_settings(settings(**overrides), client=fake.client(), sleep=clock.sleep, clock=clock)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# --- the happy path -------------------------------------------------------------------------------------------------


def test_a_slow_job_is_polled_until_success_and_its_pages_become_markdown_with_a_page_map(clock: FakeClock) -> None:
    # GIVEN a job that stays PENDING for two polls and succeeds on the third
    fake = FakeLlamaParse(polls_until_done=3)
    heartbeat = Heartbeats()
    # WHEN a PDF is parsed
    parsed = parser_for(fake, clock).parse(PDF, "application/pdf", heartbeat=heartbeat)
    # THEN the per-page Markdown is joined with blank lines and each page's start is recorded
    page_1 = "# DECLARATIONS\n\nPolicy Number: HO-1"
    page_2 = "## SECTION I – PROPERTY COVERAGES\n\nCoverage A – Dwelling"
    assert parsed.markdown == f"{page_1}\n\n{page_2}\n"
    assert parsed.page_map == PageMap((1, 2), (0, len(page_1) + 2))
    assert parsed.page_map.page_at(parsed.markdown.index("Coverage A")) == 2
    assert (parsed.page_count, parsed.pages_without_text, parsed.parser, parsed.warnings) == (2, 0, "llamaparse", ())
    # AND it took one upload, three status polls and one result, a poll interval apart, heartbeating every poll
    assert fake.routes() == ["upload", "status", "status", "status", "json"]
    assert clock.sleeps == [POLL, POLL]
    assert heartbeat.calls == 3


def test_the_upload_is_multipart_with_the_file_bytes_a_filename_and_the_bearer_token(clock: FakeClock) -> None:
    # GIVEN the fake service
    fake = FakeLlamaParse()
    # WHEN a PDF is parsed
    parser_for(fake, clock, max_pages=50).parse(PDF, "application/pdf", heartbeat=Heartbeats())
    # THEN the upload carried the bytes as the "file" part, named so LlamaParse knows the type
    [upload] = fake.uploads
    assert (upload.field_name, upload.filename, upload.content_type, upload.data) == (
        "file",
        "document.pdf",
        "application/pdf",
        PDF,
    )
    # AND it asked for no more than one page over the limit
    assert upload.form == {"max_pages": "51"}
    # AND every request went to the documented endpoints with the key
    assert fake.requests[0].method == "POST"
    assert str(fake.requests[0].url) == f"{BASE_URL}/api/v1/parsing/upload"
    assert str(fake.requests[1].url) == f"{BASE_URL}/api/v1/parsing/job/job-1"
    assert str(fake.requests[2].url) == f"{BASE_URL}/api/v1/parsing/job/job-1/result/json"
    assert {r.headers["Authorization"] for r in fake.requests} == {f"Bearer {API_KEY}"}


def test_pages_without_text_are_counted_and_left_out_of_the_page_map(clock: FakeClock) -> None:
    # GIVEN a result whose second page has no Markdown (a blank page)
    fake = FakeLlamaParse(pages=[{"page": 1, "md": "# A"}, {"page": 2, "md": "  \n"}, {"page": 3, "md": "# C\r\n"}])
    # WHEN it is parsed
    parsed = parser_for(fake, clock).parse(PDF, "application/pdf", heartbeat=Heartbeats())
    # THEN the blank page is counted, warned about, and maps to no offset
    assert parsed.markdown == "# A\n\n# C\n"
    assert parsed.page_map == PageMap((1, 3), (0, 5))
    assert (parsed.page_count, parsed.pages_without_text) == (3, 1)
    assert parsed.warnings == ("pages_without_text:1",)


def test_without_per_page_markdown_the_whole_markdown_is_one_page_with_a_warning(clock: FakeClock) -> None:
    # GIVEN a JSON result whose pages carry no "md"
    fake = FakeLlamaParse(per_page_markdown=False)
    # WHEN it is parsed
    parsed = parser_for(fake, clock).parse(PDF, "application/pdf", heartbeat=Heartbeats())
    # THEN the Markdown result is fetched and mapped to one page, and the warning says so
    assert fake.routes()[-2:] == ["json", "markdown"]
    assert parsed.markdown.startswith("# DECLARATIONS") and "Coverage A – Dwelling" in parsed.markdown
    assert parsed.page_map == PageMap.single_page()
    assert parsed.page_count == 2
    assert parsed.warnings == ("llamaparse_no_page_map",)


def test_a_partial_success_is_parsed_with_a_warning(clock: FakeClock) -> None:
    # GIVEN a job that ends PARTIAL_SUCCESS
    fake = FakeLlamaParse(final_status="PARTIAL_SUCCESS")
    # WHEN it is parsed
    parsed = parser_for(fake, clock).parse(PDF, "application/pdf", heartbeat=Heartbeats())
    # THEN the pages it has are kept, and the warning records the partial result
    assert parsed.page_count == 2
    assert parsed.warnings == ("llamaparse_partial_success",)


def test_text_and_markdown_pass_through_without_any_request(clock: FakeClock) -> None:
    # GIVEN the fake service
    fake = FakeLlamaParse()
    parser = parser_for(fake, clock)
    # WHEN a Markdown file is parsed
    parsed = parser.parse(b"# Endorsement\n\nText.\n", "text/markdown", heartbeat=Heartbeats())
    # THEN it is the text itself, as one page, and nothing was sent
    assert parsed.markdown == "# Endorsement\n\nText.\n"
    assert parsed.page_map == PageMap.single_page()
    assert fake.requests == []


# --- what the document or the job did wrong (permanent) -------------------------------------------------------------


def test_a_job_that_ends_in_error_fails_with_the_providers_code_but_not_its_message(clock: FakeClock) -> None:
    # GIVEN a job that ends ERROR with a code and a message quoting the document
    fake = FakeLlamaParse(
        polls_until_done=2,
        final_status="ERROR",
        error_code="PDF_IS_BROKEN",
        error_message="near 'Coverage A – Dwelling'",
    )
    # WHEN it is parsed
    with pytest.raises(UnsupportedDocument) as caught:
        parser_for(fake, clock).parse(PDF, "application/pdf", heartbeat=Heartbeats())
    # THEN the job fails permanently with parser_failed, naming the provider's code, never its message
    assert caught.value.code == "parser_failed"
    assert "PDF_IS_BROKEN" in str(caught.value)
    assert "Coverage" not in str(caught.value)
    # AND no result was asked for
    assert fake.routes() == ["upload", "status", "status"]


def test_a_cancelled_job_fails(clock: FakeClock) -> None:
    # GIVEN a job someone cancelled
    fake = FakeLlamaParse(final_status="CANCELLED")
    # WHEN it is parsed
    with pytest.raises(UnsupportedDocument) as caught:
        parser_for(fake, clock).parse(PDF, "application/pdf", heartbeat=Heartbeats())
    # THEN it fails as parser_failed, with no error code to report
    assert caught.value.code == "parser_failed"
    assert "error_code none" in str(caught.value)


@pytest.mark.parametrize("status", [400, 413, 415, 422])
def test_an_upload_the_provider_rejects_fails_permanently_without_retrying(clock: FakeClock, status: int) -> None:
    # GIVEN a service that refuses the file
    fake = FakeLlamaParse(failing={"upload": httpx.Response(status, json={"detail": "bad file"})})
    # WHEN it is parsed
    with pytest.raises(UnsupportedDocument) as caught:
        parser_for(fake, clock).parse(PDF, "application/pdf", heartbeat=Heartbeats())
    # THEN it fails as parser_rejected after one request and no sleep
    assert caught.value.code == "parser_rejected"
    assert fake.routes() == ["upload"]
    assert clock.sleeps == []


def test_a_type_with_no_parser_is_refused_without_any_request(clock: FakeClock) -> None:
    # GIVEN the fake service
    fake = FakeLlamaParse()
    # WHEN a type nobody parses is given
    with pytest.raises(UnsupportedDocument) as caught:
        parser_for(fake, clock).parse(b"PK\x03\x04", "application/zip", heartbeat=Heartbeats())
    # THEN it is unsupported_type and nothing was sent
    assert caught.value.code == "unsupported_type"
    assert fake.requests == []


def test_more_pages_than_allowed_is_too_many_pages(clock: FakeClock) -> None:
    # GIVEN a limit of 2 pages and a result of 3 (the upload asked for at most 3)
    fake = FakeLlamaParse(pages=[{"page": n, "md": f"# Page {n}"} for n in (1, 2, 3)])
    # WHEN it is parsed
    with pytest.raises(UnsupportedDocument) as caught:
        parser_for(fake, clock, max_pages=2).parse(PDF, "application/pdf", heartbeat=Heartbeats())
    # THEN it is too_many_pages
    assert caught.value.code == "too_many_pages"
    assert fake.uploads[0].form == {"max_pages": "3"}


def test_a_result_with_no_text_at_all_is_an_empty_document(clock: FakeClock) -> None:
    # GIVEN a result whose pages are all blank
    fake = FakeLlamaParse(pages=[{"page": 1, "md": ""}, {"page": 2, "md": "\n"}])
    # WHEN it is parsed
    with pytest.raises(UnsupportedDocument) as caught:
        parser_for(fake, clock).parse(PDF, "application/pdf", heartbeat=Heartbeats())
    # THEN it is empty_document
    assert caught.value.code == "empty_document"


# --- what may pass (transient) --------------------------------------------------------------------------------------


def test_a_job_that_never_finishes_times_out_as_transient_without_waiting(clock: FakeClock) -> None:
    # GIVEN a job that stays PENDING forever, a 10 s timeout and a 2 s poll interval
    fake = FakeLlamaParse(polls_until_done=None)
    heartbeat = Heartbeats()
    # WHEN it is parsed
    with pytest.raises(TransientError) as caught:
        parser_for(fake, clock).parse(PDF, "application/pdf", heartbeat=heartbeat)
    # THEN it is a retryable parser_timeout, not a verdict on the document
    assert caught.value.code == "parser_timeout"
    assert not isinstance(caught.value, PermanentError)
    # AND it polled at 0, 2, 4, 6, 8 and 10 s of fake time, heartbeating each time, and sent nothing else (no cancel)
    assert fake.routes() == ["upload"] + ["status"] * 6
    assert clock.sleeps == [POLL] * 5
    assert heartbeat.calls == 6


def test_429_is_retried_after_the_retry_after_delay(clock: FakeClock) -> None:
    # GIVEN a status endpoint that is rate limited once, asking for 7 seconds
    fake = FakeLlamaParse(scripted={"status": [httpx.Response(429, headers={"Retry-After": "7"})]})
    # WHEN a PDF is parsed
    parsed = parser_for(fake, clock).parse(PDF, "application/pdf", heartbeat=Heartbeats())
    # THEN the retry waited exactly what the service asked, and the parse went through
    assert clock.sleeps == [7.0]
    assert fake.routes() == ["upload", "status", "status", "json"]
    assert parsed.page_count == 2


def test_a_retry_after_over_a_minute_is_capped(clock: FakeClock) -> None:
    # GIVEN an upload rate limited with an unreasonable Retry-After
    fake = FakeLlamaParse(scripted={"upload": [httpx.Response(429, headers={"Retry-After": "3600"})]})
    # WHEN a PDF is parsed
    parser_for(fake, clock).parse(PDF, "application/pdf", heartbeat=Heartbeats())
    # THEN the wait is capped at 60 s
    assert clock.sleeps == [60.0]


def test_503_three_times_is_retried_with_exponential_backoff_and_then_succeeds(clock: FakeClock) -> None:
    # GIVEN a result endpoint that fails three times before it answers
    fake = FakeLlamaParse(scripted={"json": [httpx.Response(503)] * 3})
    # WHEN a PDF is parsed
    parsed = parser_for(fake, clock).parse(PDF, "application/pdf", heartbeat=Heartbeats())
    # THEN it waited 1, 2 and 4 seconds between four attempts, and the result is whole
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert fake.routes() == ["upload", "status", "json", "json", "json", "json"]
    assert parsed.page_map.pages == (1, 2)


def test_5xx_forever_is_parser_unavailable_after_four_attempts(clock: FakeClock) -> None:
    # GIVEN a status endpoint that always fails
    fake = FakeLlamaParse(failing={"status": httpx.Response(502)})
    # WHEN a PDF is parsed
    with pytest.raises(DependencyUnavailable) as caught:
        parser_for(fake, clock).parse(PDF, "application/pdf", heartbeat=Heartbeats())
    # THEN it gives up after four attempts as parser_unavailable, to be retried through the queue
    assert caught.value.code == "parser_unavailable"
    assert fake.routes() == ["upload"] + ["status"] * 4
    assert clock.sleeps == [1.0, 2.0, 4.0]


@pytest.mark.parametrize(
    "error", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("reset")]
)
def test_network_errors_are_retried_then_parser_unavailable(clock: FakeClock, error: httpx.TransportError) -> None:
    # GIVEN an upload whose connection fails every time
    fake = FakeLlamaParse(scripted={"upload": [error] * 4})
    # WHEN a PDF is parsed
    with pytest.raises(DependencyUnavailable) as caught:
        parser_for(fake, clock).parse(PDF, "application/pdf", heartbeat=Heartbeats())
    # THEN the httpx error is translated after four attempts
    assert caught.value.code == "parser_unavailable"
    assert isinstance(caught.value.__cause__, httpx.TransportError)
    assert fake.routes() == ["upload"] * 4
    assert clock.sleeps == [1.0, 2.0, 4.0]


def test_a_network_error_that_passes_is_invisible(clock: FakeClock) -> None:
    # GIVEN one dropped connection on the status poll
    fake = FakeLlamaParse(scripted={"status": [httpx.ConnectError("refused")]})
    # WHEN a PDF is parsed
    parsed = parser_for(fake, clock).parse(PDF, "application/pdf", heartbeat=Heartbeats())
    # THEN one backoff second was spent and the parse went through
    assert clock.sleeps == [1.0]
    assert parsed.page_count == 2


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_is_transient_and_not_retried_in_the_call(clock: FakeClock, status: int) -> None:
    # GIVEN a service that refuses our key
    fake = FakeLlamaParse(failing={"upload": httpx.Response(status, json={"detail": "Invalid API key"})})
    # WHEN a PDF is parsed
    with pytest.raises(DependencyUnavailable) as caught:
        parser_for(fake, clock).parse(PDF, "application/pdf", heartbeat=Heartbeats())
    # THEN it is parser_auth, transient (an operator fixes the key, the message is redriven), after one request
    assert caught.value.code == "parser_auth"
    assert isinstance(caught.value, TransientError)
    assert fake.routes() == ["upload"]
    assert clock.sleeps == []


def test_the_fake_rejects_a_missing_or_wrong_bearer_token(clock: FakeClock) -> None:
    # GIVEN the fake service
    fake = FakeLlamaParse()
    with fake.client() as client:
        # WHEN it is called without a token
        anonymous = client.post(f"{BASE_URL}/api/v1/parsing/upload", files={"file": ("d.pdf", PDF)})
        # THEN it answers 401 and starts no job
        assert anonymous.status_code == 401
        assert fake.jobs == {}
    # AND a parser holding the wrong key gets parser_auth
    with pytest.raises(DependencyUnavailable) as caught:
        parser_for(fake, clock, llamaparse_api_key=SecretStr("llx-wrong")).parse(
            PDF, "application/pdf", heartbeat=Heartbeats()
        )
    assert caught.value.code == "parser_auth"


def test_an_unreadable_answer_is_a_bad_response(clock: FakeClock) -> None:
    # GIVEN an upload answer that is not the documented JSON
    fake = FakeLlamaParse(scripted={"upload": [httpx.Response(200, text="<html>maintenance</html>")]})
    # WHEN a PDF is parsed
    with pytest.raises(DependencyUnavailable) as caught:
        parser_for(fake, clock).parse(PDF, "application/pdf", heartbeat=Heartbeats())
    # THEN it is parser_bad_response, and the body is not quoted
    assert caught.value.code == "parser_bad_response"
    assert "maintenance" not in str(caught.value)


def test_a_job_that_vanished_is_a_bad_response_not_a_verdict_on_the_document(clock: FakeClock) -> None:
    # GIVEN a status endpoint that no longer knows the job
    fake = FakeLlamaParse(failing={"status": httpx.Response(404, json={"detail": "Job not found"})})
    # WHEN a PDF is parsed
    with pytest.raises(DependencyUnavailable) as caught:
        parser_for(fake, clock).parse(PDF, "application/pdf", heartbeat=Heartbeats())
    # THEN it is transient parser_bad_response after one poll
    assert caught.value.code == "parser_bad_response"
    assert fake.routes() == ["upload", "status"]


# --- the heartbeat --------------------------------------------------------------------------------------------------


def test_a_lost_lease_stops_polling_and_propagates(clock: FakeClock) -> None:
    # GIVEN a slow job and a heartbeat that finds the lease gone on its second call
    fake = FakeLlamaParse(polls_until_done=5)
    heartbeat = Heartbeats(lose_at=2)
    # WHEN a PDF is parsed
    with pytest.raises(LeaseLost):
        parser_for(fake, clock).parse(PDF, "application/pdf", heartbeat=heartbeat)
    # THEN LeaseLost came out untouched and no poll followed it
    assert heartbeat.calls == 2
    assert fake.routes() == ["upload", "status"]
    assert clock.sleeps == [POLL]


# --- Retry-After and configuration ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 1.5 ", 1.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("120", 60.0),
        ("Wed, 01 Jan 2025 00:00:30 GMT", 30.0),
        ("Wed, 01 Jan 2025 00:05:00 GMT", 60.0),
        ("Tue, 31 Dec 2024 23:59:00 GMT", 0.0),
        ("soon", None),
        ("nan", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(header: str | None, seconds: float | None) -> None:
    # GIVEN a fixed now WHEN the header is read THEN it is seconds from now, within 0–60, or None
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert retry_after_seconds(header, now=now) == seconds


class FakeSecrets:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.asked: list[str] = []

    def get_secret_value(self, *, SecretId: str) -> dict[str, str]:  # boto3 spells it SecretId
        self.asked.append(SecretId)
        return {"SecretString": self.secret}


@pytest.mark.parametrize("secret", ["llx-from-secret", ' {"api_key": "llx-from-secret"} ', "llx-from-secret\n"])
def test_the_key_comes_from_a_secret_as_raw_text_or_json(secret: str) -> None:
    # GIVEN no key in the environment, only a secret ARN
    secrets = FakeSecrets(secret)
    config = settings(llamaparse_api_key=None, llamaparse_api_key_secret_arn="arn:aws:secretsmanager:llamaparse")
    # WHEN the key is read THEN it is the secret's key, asked for once
    assert api_key_from_settings(config, cast(Any, secrets)) == "llx-from-secret"
    assert secrets.asked == ["arn:aws:secretsmanager:llamaparse"]


def test_the_environment_key_wins_and_no_key_at_all_fails_at_cold_start() -> None:
    # GIVEN a key in the environment and a secret too WHEN the key is read THEN the environment's is used
    both = settings(llamaparse_api_key_secret_arn="arn:aws:secretsmanager:llamaparse")
    assert api_key_from_settings(both, cast(Any, FakeSecrets("other"))) == API_KEY
    # AND with neither, building the parser fails loudly
    with pytest.raises(ValueError, match="LLAMAPARSE_API_KEY"):
        LlamaParseParser.from_settings(settings(llamaparse_api_key=None))
    # AND a JSON secret without api_key is refused
    json_secret = settings(llamaparse_api_key=None, llamaparse_api_key_secret_arn="arn")
    with pytest.raises(ValueError, match="api_key"):
        api_key_from_settings(json_secret, cast(Any, FakeSecrets(json.dumps({"key": "x"}))))


def test_parser_from_settings_builds_the_llamaparse_parser_without_leaking_the_key() -> None:
    # GIVEN PARSER=llamaparse WHEN the parser is built
    parser = parser_from_settings(settings())
    # THEN it is LlamaParse, and its repr does not show the key
    assert isinstance(parser, LlamaParseParser)
    assert parser.name == "llamaparse"
    assert API_KEY not in repr(parser)


def test_a_job_id_that_could_change_the_url_path_is_refused(clock: FakeClock) -> None:
    # GIVEN an upload answer whose job id walks up the path
    fake = FakeLlamaParse(scripted={"upload": [httpx.Response(200, json={"id": "../../admin", "status": "PENDING"})]})
    # WHEN a PDF is parsed
    with pytest.raises(DependencyUnavailable) as caught:
        parser_for(fake, clock).parse(PDF, "application/pdf", heartbeat=Heartbeats())
    # THEN it is parser_bad_response and nothing is polled
    assert caught.value.code == "parser_bad_response"
    assert fake.routes() == ["upload"]
