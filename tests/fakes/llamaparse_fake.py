"""A fake LlamaParse v1 API behind httpx.MockTransport: upload, job status, JSON and Markdown results, with
scripted failures, slow and never-ending jobs, and a clock whose sleeps cost no time."""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

BASE_URL = "https://llamaparse.test"
API_KEY = "llx-test-key"

_JOB = re.compile(r"^/api/v1/parsing/job/(?P<job_id>[^/]+)(?:/result/(?P<result>json|markdown))?$")

# What a scripted step may be: a response to return, or a transport error to raise.
Step = httpx.Response | httpx.TransportError


@dataclass
class UploadedFile:
    field_name: str
    filename: str
    content_type: str
    data: bytes
    form: dict[str, str]


@dataclass
class FakeJob:
    id: str
    polls: int = 0


@dataclass
class FakeLlamaParse:
    """Jobs go PENDING for ``polls_until_done - 1`` status polls, then ``final_status``; ``None`` never finishes.

    ``scripted["upload" | "status" | "json" | "markdown"]`` are answers given, in order, before the normal one;
    ``failing`` routes answer with their response every time.
    """

    pages: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"page": 1, "md": "# DECLARATIONS\n\nPolicy Number: HO-1", "text": "DECLARATIONS"},
            {"page": 2, "md": "## SECTION I – PROPERTY COVERAGES\n\nCoverage A – Dwelling", "text": "SECTION I"},
        ]
    )
    polls_until_done: int | None = 1
    final_status: str = "SUCCESS"
    error_code: str | None = None
    error_message: str | None = None
    per_page_markdown: bool = True
    scripted: dict[str, list[Step]] = field(default_factory=dict)
    failing: dict[str, httpx.Response] = field(default_factory=dict)
    api_key: str = API_KEY
    requests: list[httpx.Request] = field(default_factory=list)
    uploads: list[UploadedFile] = field(default_factory=list)
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))

    def routes(self) -> list[str]:
        """The route of every request received, in order: ``upload``, ``status``, ``json`` or ``markdown``."""
        return [_route(r) for r in self.requests]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = _route(request)
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return httpx.Response(401, json={"detail": "Invalid authentication credentials"})
        if self.scripted.get(route):
            step = self.scripted[route].pop(0)
            if isinstance(step, httpx.TransportError):
                raise step
            return step
        if route in self.failing:
            return self.failing[route]
        handler: Callable[[httpx.Request], httpx.Response] = {
            "upload": self._upload,
            "status": self._status,
            "json": self._json,
            "markdown": self._markdown,
        }.get(route, _not_found)
        return handler(request)

    def _upload(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return httpx.Response(405, json={"detail": "Method Not Allowed"})
        self.uploads.append(_parse_multipart(request))
        job = FakeJob(f"job-{next(self._ids)}")
        self.jobs[job.id] = job
        return httpx.Response(200, json={"id": job.id, "status": "PENDING"})

    def _status(self, request: httpx.Request) -> httpx.Response:
        job = self._job(request)
        if job is None:
            return _not_found(request)
        job.polls += 1
        body = {"id": job.id, "status": self._status_of(job), "error_code": None, "error_message": None}
        if body["status"] in ("ERROR", "CANCELLED"):
            body |= {"error_code": self.error_code, "error_message": self.error_message}
        return httpx.Response(200, json=body)

    def _json(self, request: httpx.Request) -> httpx.Response:
        job = self._job(request)
        if job is None or self._status_of(job) not in ("SUCCESS", "PARTIAL_SUCCESS"):
            return _not_found(request)
        pages = (
            self.pages if self.per_page_markdown else [{k: v for k, v in p.items() if k != "md"} for p in self.pages]
        )
        return httpx.Response(200, json={"pages": pages, "job_metadata": {"job_pages": len(self.pages)}})

    def _markdown(self, request: httpx.Request) -> httpx.Response:
        job = self._job(request)
        if job is None or self._status_of(job) not in ("SUCCESS", "PARTIAL_SUCCESS"):
            return _not_found(request)
        markdown = "\n---\n".join(str(p.get("md", "")) for p in self.pages)
        return httpx.Response(200, json={"markdown": markdown, "job_metadata": {"job_pages": len(self.pages)}})

    def _job(self, request: httpx.Request) -> FakeJob | None:
        match = _JOB.match(request.url.path)
        return self.jobs.get(match["job_id"]) if match and request.method == "GET" else None

    def _status_of(self, job: FakeJob) -> str:
        if self.polls_until_done is None or job.polls < self.polls_until_done:
            return "PENDING"
        return self.final_status


@dataclass
class FakeClock:
    """``clock()`` for the parser; ``sleep`` records the delay and moves time on without waiting."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _route(request: httpx.Request) -> str:
    if request.url.path == "/api/v1/parsing/upload":
        return "upload"
    match = _JOB.match(request.url.path)
    if match is None:
        return "unknown"
    return match["result"] or "status"


def _not_found(request: httpx.Request) -> httpx.Response:
    return httpx.Response(404, json={"detail": "Not Found"})


def _parse_multipart(request: httpx.Request) -> UploadedFile:
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.read())
    form: dict[str, str] = {}
    uploaded: UploadedFile | None = None
    for part in message.iter_parts():
        name = str(part.get_param("name", header="content-disposition"))
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        filename = part.get_filename()
        if filename is None:
            form[name] = payload.decode()
        else:
            uploaded = UploadedFile(name, filename, part.get_content_type(), payload, form)
    assert uploaded is not None, "upload without a file part"
    return uploaded
