"""The LlamaParse provider (PARSER=llamaparse): a PDF goes to LlamaCloud's parsing API over httpx and comes back as
Markdown with a page map, polled under the job's heartbeat. Text and Markdown never leave: they pass through locally.

Endpoints — LlamaParse's v1 REST API as documented at developers.llamaindex.ai/llamaparse/parse/v1/ (webhook and
JSON-mode pages) and as LlamaCloud's OpenAPI-generated SDK calls it (llama-cloud-py, ``resources/parsing``); every
request carries ``Authorization: Bearer <key>``:

    POST {base}/api/v1/parsing/upload                   multipart ``file`` (+ ``max_pages``) → {"id", "status"}
    GET  {base}/api/v1/parsing/job/{id}                 → {"id", "status", "error_code", "error_message"}
                                                          status: PENDING, then SUCCESS | PARTIAL_SUCCESS | ERROR |
                                                          CANCELLED
    GET  {base}/api/v1/parsing/job/{id}/result/json     → {"pages": [{"page", "md", "text", …}], "job_metadata"}
    GET  {base}/api/v1/parsing/job/{id}/result/markdown → {"markdown", "job_metadata": {"job_pages", …}}

The per-page ``md`` of the JSON result, joined with blank lines, gives the Markdown and a real page map; only when
it is missing does the single Markdown result stand in, mapped to one page (warning ``llamaparse_no_page_map``).
Upload asks for at most ``max_pages + 1`` pages, so an over-long document costs little and still reads as too long.

Failures, by where they happen:

    401, 403                       DependencyUnavailable  parser_auth       the key, not the document, is wrong
    400, 413, 415, 422 on upload   UnsupportedDocument    parser_rejected
    job ERROR or CANCELLED         UnsupportedDocument    parser_failed     with the provider's error_code only
    still running after timeout    TransientError         parser_timeout    the remote job is left to finish
    408, 429, 5xx, network         retried in the call: 4 attempts, 1 s × 2^(n−1) apart (≤ 30 s), or Retry-After
                                   (seconds or HTTP-date, ≤ 60 s); then DependencyUnavailable parser_unavailable
    other 4xx, unreadable bodies   DependencyUnavailable  parser_bad_response
    no text on any page            UnsupportedDocument    empty_document
    more pages than max_pages      UnsupportedDocument    too_many_pages
    neither PDF nor text           UnsupportedDocument    unsupported_type
    key secret unreadable          DependencyUnavailable  secrets_unavailable   (at cold start, from from_settings)

``parser_auth`` is transient on purpose: a wrong or rotated key is an operator's fix, not the document's fault. The
message retries with backoff and then dead-letters, from where it can be redriven once the key is fixed, instead of
failing every upload for good. ``parser_timeout`` is transient for the same reason — a slow queue at the provider says
nothing about the file — and LlamaParse caches finished results, so the retry usually returns at once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

import httpx
from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from docintake.aws import read_api_key
from docintake.config import Settings
from docintake.errors import DependencyUnavailable, TransientError, UnsupportedDocument
from docintake.http_retries import MAX_ATTEMPTS, backoff_seconds, retry_after_seconds
from docintake.parsing import Heartbeat, PageMap, ParsedDocument, ParsedPart, join_pages, parse_text
from docintake.vocabulary import ErrorCode

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

logger = Logger(service="docintake", child=True)

UPLOAD_PATH = "/api/v1/parsing/upload"
JOB_PATH = "/api/v1/parsing/job/{job_id}"
RESULT_PATH = "/api/v1/parsing/job/{job_id}/result/{result_type}"

# Uploads of up to 50 MB must fit in the read/write timeout; a dead peer must not hold the invocation.
HTTP_TIMEOUT = httpx.Timeout(60.0, connect=10.0)

_SUCCEEDED = frozenset({"SUCCESS", "PARTIAL_SUCCESS"})
# The SDKs spell it both ways.
_FAILED = frozenset({"ERROR", "CANCELLED", "CANCELED"})
_RETRYABLE = frozenset({408, 429})
_REJECTED = frozenset({400, 413, 415, 422})
_UNSAFE_CODE_CHARS = re.compile(r"[^A-Za-z0-9_.:-]")
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
# LlamaParse reads these itself; the name's extension tells it the type.
_FILENAMES = {
    "application/pdf": "document.pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "document.docx",
    "text/html": "document.html",
    "image/png": "document.png",
    "image/jpeg": "document.jpg",
    "image/tiff": "document.tiff",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Job(_Model):
    id: str
    status: str
    error_code: str | None = None


class _JobMetadata(_Model):
    job_pages: int | None = None


class _Page(_Model):
    page: int | None = None
    md: str | None = None


class _JsonResult(_Model):
    pages: list[_Page] = Field(default_factory=list)


class _MarkdownResult(_Model):
    markdown: str
    job_metadata: _JobMetadata | None = None


_M = TypeVar("_M", bound=_Model)


@dataclass(frozen=True)
class LlamaParseParser:
    api_key: str = field(repr=False)
    base_url: str
    poll_interval_seconds: float
    timeout_seconds: float
    max_pages: int
    client: httpx.Client = field(repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    name: str = "llamaparse"

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        secrets: SecretsManagerClient | None = None,
    ) -> LlamaParseParser:
        return cls(
            api_key=api_key_from_settings(settings, secrets),
            base_url=settings.llamaparse_base_url.rstrip("/"),
            poll_interval_seconds=settings.llamaparse_poll_interval_seconds,
            timeout_seconds=settings.llamaparse_timeout_seconds,
            max_pages=settings.max_pages,
            client=client or httpx.Client(timeout=HTTP_TIMEOUT),
            sleep=sleep,
            clock=clock,
        )

    def parse(self, data: bytes, content_type: str, *, heartbeat: Heartbeat) -> ParsedDocument:
        if content_type in ("text/plain", "text/markdown"):
            return parse_text(data)
        filename = _FILENAMES.get(content_type)
        if filename is None:
            raise UnsupportedDocument(f"no parser for {content_type}", code=ErrorCode.UNSUPPORTED_TYPE)
        job_id = self._upload(data, filename, content_type)
        status = self._wait(job_id, heartbeat)
        parsed = self._result(job_id)
        if status == "PARTIAL_SUCCESS":
            parsed = _with_warning(parsed, "llamaparse_partial_success")
        if parsed.page_count > self.max_pages:
            raise UnsupportedDocument(
                f"document has more than {self.max_pages} pages (LlamaParse read {parsed.page_count})",
                code=ErrorCode.TOO_MANY_PAGES,
            )
        logger.info(
            "llamaparse parsed",
            extra={"llamaparse_job_id": job_id, "pages": parsed.page_count, "markdown_chars": len(parsed.markdown)},
        )
        return parsed

    def page_count(self, data: bytes, content_type: str) -> int | None:
        """None: LlamaParse reads the whole document in its own service, where our function's time limit
        bounds only the polling (``timeout_seconds``), so a document is never split into parts here."""
        return None

    def parse_pages(self, data: bytes, content_type: str, first: int, last: int, *, heartbeat: Heartbeat) -> ParsedPart:
        raise UnsupportedDocument("LlamaParse does not parse page ranges here", code=ErrorCode.UNSUPPORTED_TYPE)

    def join(self, parts: Sequence[ParsedPart]) -> ParsedDocument:
        raise UnsupportedDocument("LlamaParse does not parse page ranges here", code=ErrorCode.UNSUPPORTED_TYPE)

    def _upload(self, data: bytes, filename: str, content_type: str) -> str:
        response = self._send(
            "upload",
            "POST",
            UPLOAD_PATH,
            files={"file": (filename, data, content_type)},
            # One page over the limit is enough to tell the document is too long, and bounds what it costs.
            form={"max_pages": str(self.max_pages + 1)},
        )
        job_id = _body(response, _Job, "upload").id
        # The id goes into URL paths and logs: a UUID, or at least nothing that could change the path.
        if not _JOB_ID.fullmatch(job_id):
            raise DependencyUnavailable(
                "LlamaParse upload answer has an odd job id", code=ErrorCode.PARSER_BAD_RESPONSE
            )
        logger.info("llamaparse job started", extra={"llamaparse_job_id": job_id})
        return job_id

    def _wait(self, job_id: str, heartbeat: Heartbeat) -> str:
        """Polls until the job ends; returns its successful status. The remote job is never cancelled."""
        deadline = self.clock() + self.timeout_seconds
        polls = 0
        while True:
            # Before each poll, so the lease and the message stay ours; LeaseLost ends the wait right here.
            heartbeat()
            polls += 1
            job = _body(self._send("status", "GET", JOB_PATH.format(job_id=job_id)), _Job, "status")
            if job.status in _SUCCEEDED:
                return job.status
            if job.status in _FAILED:
                raise UnsupportedDocument(
                    f"LlamaParse job ended {job.status} (error_code {_safe(job.error_code)})",
                    code=ErrorCode.PARSER_FAILED,
                )
            if self.clock() >= deadline:
                logger.warning("llamaparse timed out", extra={"llamaparse_job_id": job_id, "polls": polls})
                raise TransientError(
                    f"LlamaParse job still {_safe(job.status)} after {self.timeout_seconds:g} s",
                    code=ErrorCode.PARSER_TIMEOUT,
                )
            self.sleep(self.poll_interval_seconds)

    def _result(self, job_id: str) -> ParsedDocument:
        paged = _body(
            self._send("result", "GET", RESULT_PATH.format(job_id=job_id, result_type="json")), _JsonResult, "result"
        )
        if paged.pages and all(page.md is not None for page in paged.pages):
            return _from_pages(paged.pages)
        whole = _body(
            self._send("result", "GET", RESULT_PATH.format(job_id=job_id, result_type="markdown")),
            _MarkdownResult,
            "result",
        )
        markdown = _clean(whole.markdown).strip("\n")
        if not markdown.strip():
            raise UnsupportedDocument("LlamaParse found no text", code=ErrorCode.EMPTY_DOCUMENT)
        pages = whole.job_metadata.job_pages if whole.job_metadata and whole.job_metadata.job_pages else 1
        return ParsedDocument(
            markdown.rstrip() + "\n",
            PageMap.single_page(),
            pages,
            0,
            parser="llamaparse",
            warnings=("llamaparse_no_page_map",),
        )

    def _send(
        self,
        what: str,
        method: str,
        path: str,
        *,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        form: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One request with in-call retries of what may pass; anything else becomes our error at once."""
        headers = {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}
        for attempt in range(1, MAX_ATTEMPTS + 1):
            failure: httpx.TransportError | None = None
            try:
                response = self.client.request(method, self.base_url + path, headers=headers, files=files, data=form)
            except httpx.TransportError as exc:
                failure, reason = exc, type(exc).__name__
                delay = backoff_seconds(attempt)
            else:
                if response.status_code < 300:
                    return response
                if response.status_code < 500 and response.status_code not in _RETRYABLE:
                    raise _status_error(what, response.status_code)
                reason = str(response.status_code)
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                delay = backoff_seconds(attempt) if retry_after is None else retry_after
            if attempt == MAX_ATTEMPTS:
                raise DependencyUnavailable(
                    f"LlamaParse {what} failed {MAX_ATTEMPTS} times (last: {reason})", code=ErrorCode.PARSER_UNAVAILABLE
                ) from failure
            logger.warning("llamaparse retry", extra={"request": what, "reason": reason, "delay_seconds": delay})
            self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover


def api_key_from_settings(settings: Settings, secrets: SecretsManagerClient | None = None) -> str:
    """LLAMAPARSE_API_KEY, else the Secrets Manager secret, whose string is the key or JSON ``{"api_key": …}``."""
    return read_api_key(
        settings.llamaparse_api_key,
        settings.llamaparse_api_key_secret_arn,
        what="LlamaParse API key",
        needs="PARSER=llamaparse needs LLAMAPARSE_API_KEY or LLAMAPARSE_API_KEY_SECRET_ARN",
        secrets=secrets,
    )


def _status_error(what: str, status: int) -> Exception:
    if status in (401, 403):
        return DependencyUnavailable(f"LlamaParse refused the API key ({status})", code=ErrorCode.PARSER_AUTH)
    if what == "upload" and status in _REJECTED:
        return UnsupportedDocument(f"LlamaParse rejected the document ({status})", code=ErrorCode.PARSER_REJECTED)
    return DependencyUnavailable(f"LlamaParse {what} answered {status}", code=ErrorCode.PARSER_BAD_RESPONSE)


def _body(response: httpx.Response, model: type[_M], what: str) -> _M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        # The validation message could quote the body; say only which fields were wrong.
        fields = ",".join(sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()}))[:200]
        raise DependencyUnavailable(
            f"LlamaParse {what} answer unreadable ({fields})", code=ErrorCode.PARSER_BAD_RESPONSE
        ) from None


def _safe(text: str | None) -> str:
    """A provider's status or error code, fit for a message or a log line."""
    return _UNSAFE_CODE_CHARS.sub("", text or "")[:64] or "none"


def _clean(markdown: str) -> str:
    return markdown.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _from_pages(pages: list[_Page]) -> ParsedDocument:
    """Per-page Markdown joined with blank lines; the map records where each page with text begins."""
    markdown, page_map = join_pages(
        ((page.page if page.page is not None else index, _clean(page.md or "")) for index, page in enumerate(pages, 1)),
        empty="LlamaParse found no text on any page",
    )
    empty = len(pages) - len(page_map.pages)
    return ParsedDocument(
        markdown,
        page_map,
        len(pages),
        empty,
        parser="llamaparse",
        warnings=(f"pages_without_text:{empty}",) if empty else (),
    )


def _with_warning(parsed: ParsedDocument, warning: str) -> ParsedDocument:
    return replace(parsed, warnings=(*parsed.warnings, warning))
