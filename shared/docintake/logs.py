"""Logs without document content: exceptions are written by type, code and stack frames, never by message.

Library exceptions carry data in their messages: psycopg's DETAIL quotes a failing row ("Failing row
contains (…chunk text…)"), botocore's names object keys (which hold file names), and any ``ValueError``
may quote the input it choked on. Our own errors are written to carry ids and codes only, so theirs are kept.

- ``ScrubbingFormatter`` is the Powertools formatter of every function (``function_logger()``).
- ``scrubbed_handler`` wraps a Lambda handler: an exception that escapes it is re-raised as
  ``HandlerFailed`` with a scrubbed message, because the Lambda runtime writes an unhandled
  exception's message to the function's log (and Powertools' ``BatchProcessingError`` folds every
  record's traceback into its own).
"""

from __future__ import annotations

import functools
import logging
import sys
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO, TypeVar

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from docintake.errors import DocintakeError

F = TypeVar("F", bound=Callable[..., Any])
QUOTING_LIBRARIES = ("aws_lambda_powertools", "botocore", "boto3", "s3transfer", "urllib3", "httpx", "httpcore")
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


def describe_exception(exc: BaseException) -> str:
    """What may be logged about an exception: its type and, where the library provides them, codes."""
    name = type(exc).__name__
    if isinstance(exc, DocintakeError):  # messages written to carry no content
        return f"{name}: {exc.code}: {exc}"
    if isinstance(exc, HandlerFailed):  # already scrubbed
        return f"{name}: {exc}"
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate is not None:  # psycopg.Error: the SQLSTATE and the constraint's name, no DETAIL
        diag = getattr(exc, "diag", None)
        constraint = getattr(diag, "constraint_name", None)
        return f"{name}: sqlstate {sqlstate}" + (f", constraint {constraint}" if constraint else "")
    response = getattr(exc, "response", None)
    operation = getattr(exc, "operation_name", None)
    if isinstance(response, dict) and operation:  # botocore ClientError: the code and the operation
        code = response.get("Error", {}).get("Code", "?")
        return f"{name}: {code} in {operation}"
    child_exceptions = getattr(exc, "child_exceptions", None)
    if child_exceptions is not None:  # Powertools' BatchProcessingError
        children = ", ".join(describe_exception(info[1]) for info in child_exceptions if info and info[1] is not None)
        return f"{name}: {len(child_exceptions)} record(s) failed: {children}"
    return name


def scrub_traceback(exc_info: ExcInfo) -> str:
    """A traceback whose frames (code) are kept and whose exception lines say only ``describe_exception``."""
    _, exc, tb = exc_info
    if exc is None:
        return ""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    chain: list[BaseException] = []
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    for index, item in enumerate(reversed(chain)):
        if index:
            parts.append("\nThe above exception led to the following:\n")
        frames = traceback.extract_tb(item.__traceback__ if item is not exc else tb)
        parts.append("Traceback (most recent call last):\n" + "".join(traceback.format_list(frames)))
        parts.append(describe_exception(item))
    return "".join(parts)


class ScrubbingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines, with exceptions scrubbed (``exception``, and ``stack_trace``'s value)."""

    def formatException(self, ei: Any) -> str:
        return scrub_traceback(ei)

    def _extract_log_exception(self, log_record: Any) -> Any:
        if log_record.exc_info is None and getattr(log_record, "exc_text", None):
            # Scrubbed at creation (see install_record_scrubbing): the text is all there is.
            return log_record.exc_text, getattr(log_record, "exception_type", "Exception"), None
        return super()._extract_log_exception(log_record)

    def _serialize_stacktrace(self, log_record: Any) -> Any:
        serialized = super()._serialize_stacktrace(log_record)
        if serialized is not None and isinstance(log_record.exc_info, tuple):
            serialized["value"] = describe_exception(log_record.exc_info[1])
        return serialized


def install_record_scrubbing() -> None:
    """Every log record created in this process carries its exception scrubbed: ``exc_text`` holds
    ``scrub_traceback`` and ``exc_info`` is dropped, so no handler — Powertools', the Lambda runtime's,
    a library's own ``logger.exception`` (Powertools' Tracer logs every exception it sees) — can format
    the original message. Idempotent."""
    current = logging.getLogRecordFactory()
    if getattr(current, "docintake_scrubbing", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        exc_info = record.exc_info
        if exc_info and exc_info[1] is not None:
            record.exc_text = scrub_traceback(exc_info)
            record.exception_type = type(exc_info[1]).__name__
            record.exc_info = None
        return record

    factory.docintake_scrubbing = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def function_logger(stream: TextIO | None = None) -> Logger:
    """The Logger of a function's handler module; the package's child loggers write through it.

    Libraries' debug and info lines quote what they handle — Powertools' batch processor each failed
    record's exception message, botocore and urllib3 request parameters and URLs (object keys hold file
    names) — so their loggers stay at WARNING whatever LOG_LEVEL says; LOG_LEVEL is docintake's own.

    ``stream`` is Powertools' (stdout, which Lambda sends to CloudWatch); the CLI passes stderr, keeping
    stdout for its output."""
    for name in QUOTING_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    install_record_scrubbing()
    return Logger(logger_formatter=ScrubbingFormatter(), stream=stream)


# Request parameters the X-Ray SDK records on S3 subsegments that name objects: our keys end in file names.
_TRACED_KEY_PARAMETERS = ("Key", "CopySource")


def function_tracer(*, http: bool = False) -> Tracer:
    """Powertools' Tracer for a handler module, with AWS calls traced but object keys left out, and HTTP
    calls (httpx: LlamaParse, OpenAI-compatible APIs) traced where ``http`` says the function makes them.

    Only those modules are patched: by default the SDK patches every library it supports that is
    installed, importing each (httpx, sqlite3, http.client…) into functions that never use them.
    The X-Ray SDK's botocore patch records a whitelist of request parameters, S3's ``Key`` among them;
    with the Tracer enabled (on Lambda) that whitelist is trimmed here. Subsegments of our own methods
    are not used: the SDK stores an escaping exception's message on them, unscrubbed."""
    tracer = Tracer(patch_modules=("botocore", "httpx") if http else ("botocore",))
    boto_utils = sys.modules.get("aws_xray_sdk.ext.boto_utils")
    if boto_utils is not None:
        redact_traced_parameters(boto_utils.whitelist)
    return tracer


def redact_traced_parameters(whitelist: dict[str, Any]) -> None:
    for operation in whitelist.get("services", {}).get("s3", {}).get("operations", {}).values():
        kept = [p for p in operation.get("request_parameters", []) if p not in _TRACED_KEY_PARAMETERS]
        operation["request_parameters"] = kept


class HandlerFailed(Exception):
    """An invocation failed; the message says how in types and codes only."""


def scrubbed_handler(handler: F) -> F:
    """Re-raises whatever escapes the handler as ``HandlerFailed(describe_exception(exc))``, so the
    runtime's error record and the function's log carry no document content. The failure semantics
    (async retries, a failed SQS batch) are unchanged."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except HandlerFailed:
            raise
        except Exception as exc:
            raise HandlerFailed(describe_exception(exc)) from None

    return wrapper  # type: ignore[return-value]
