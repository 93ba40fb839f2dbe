"""Hostile inputs: every broken or malicious file ends, in bounded time and memory, in a parse or a permanent
error with a stable code, and the process that asked survives; the parse sandbox's limits, one by one."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import time
from collections.abc import Callable
from functools import partial
from itertools import pairwise
from pathlib import Path

import pytest

from docintake.errors import DependencyUnavailable, DocintakeError, LeaseLost, UnsupportedDocument
from docintake.parsing.local import LocalParser
from docintake.parsing.sandbox import Sandbox
from docintake.validation import sniff_matches
from tests.hostile_pdfs import MARKER, HostileFile, hostile_corpus, zeros_deflated

MAX_PAGES = 20
# The limits every hostile file is parsed under; each must be answered well inside BOUND_SECONDS.
PARSER = LocalParser(max_pages=MAX_PAGES, max_scanned_page_ratio=0.5, timeout_seconds=10, memory_mb=512)
BOUND_SECONDS = 15
CORPUS = hostile_corpus(max_pages=MAX_PAGES)
MALFORMED = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "malformed"
STABLE_CODES = {
    "encrypted_pdf",
    "corrupt_pdf",
    "too_many_pages",
    "parse_timeout",
    "parse_memory",
    "no_text_layer",
    "empty_document",
}
BOMBS = {"decompression_bomb", "nested_flate_bomb"}

# name → the page count of a successful parse, or the error code. Measured with pypdfium2 5.15.
EXPECTED: dict[str, int | str] = {
    "valid_policy": 3,
    "zero_bytes": "corrupt_pdf",
    "truncated": "corrupt_pdf",
    "truncated_header_only": "corrupt_pdf",
    "garbage_after_header": "corrupt_pdf",
    "xref_prev_points_at_itself": 1,
    "xref_prev_cycle": 1,
    "xref_stream_prev_loop": 1,
    "startxref_past_the_end": 1,
    # PDFium inflates a whole stream into memory and aborts when the cap refuses the next doubling.
    "decompression_bomb": "parse_memory",
    "nested_flate_bomb": "parse_memory",
    # PDFium counts the leaves of the page tree when /Count is too high, and trusts a /Count that is too low.
    "count_lies_high": 1,
    "count_lies_low": 1,
    "pages_kids_loop": "corrupt_pdf",
    "deeply_nested_arrays": 1,
    "deeply_nested_dicts": 1,
    "deep_page_tree": "corrupt_pdf",
    "form_xobject_cycle": 1,
    "encrypted_with_password": "encrypted_pdf",
    "encrypted_empty_user_password": 1,
    "too_many_pages": "too_many_pages",
    "no_page_has_text": "no_text_layer",
    "mostly_scanned": "no_text_layer",
    "empty_page_tree": "corrupt_pdf",
    # Declared text/plain: the binary comment on line 2 is not UTF-8, nor a word of Windows-1252 ("âãÏÓ", four
    # accented letters in a row, reads like another script in the wrong charset)...
    "pdf_renamed_txt": "not_utf8",
    # ...but an all-ASCII PDF is valid text, and passes through as its own source (validation refuses it first).
    "ascii_pdf_renamed_txt": 1,
    "text_renamed_pdf": "corrupt_pdf",
}


def _no_heartbeat() -> None:
    """The parses here finish long before the first heartbeat would be due."""


# --- the hostile corpus ------------------------------------------------------------------------------------


def test_every_hostile_file_has_an_expected_outcome() -> None:
    assert sorted(f.name for f in CORPUS) == sorted(EXPECTED)


@pytest.mark.parametrize("hostile", CORPUS, ids=[f.name for f in CORPUS])
def test_hostile_files_parse_or_fail_permanently_with_their_code_in_bounded_time(hostile: HostileFile) -> None:
    # GIVEN a hostile file, declared as its upload declared it
    expected = EXPECTED[hostile.name]
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    # WHEN the local parser (PDFs in the sandbox: 10 s, 512 MB) reads it
    try:
        parsed = PARSER.parse(hostile.data, hostile.content_type, heartbeat=_no_heartbeat)
    except DocintakeError as exc:
        outcome: int | str = exc.code
        # THEN a failure is permanent (the job is marked failed and the message acknowledged, never retried), and it
        # is the parser refusing the document, not a dependency failing (transient) or another stage's error
        assert isinstance(exc, UnsupportedDocument), f"{type(exc).__name__} ({exc.code})"
    else:
        outcome = parsed.page_count
        # THEN a success carries the policy's text
        assert MARKER in parsed.markdown
    elapsed = time.monotonic() - started
    # AND the outcome is the expected one (a bomb may also parse, as long as it stays within the bounds)
    if hostile.name in BOMBS:
        assert outcome in ("parse_memory", 2)
    else:
        assert outcome == expected
    assert elapsed < BOUND_SECONDS
    # AND whatever the child allocated, this process did not grow
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 64 * 1024


def test_the_ascii_pdf_declared_as_text_passes_through_as_its_own_source() -> None:
    # GIVEN an all-ASCII PDF uploaded as text/plain
    hostile = next(f for f in CORPUS if f.name == "ascii_pdf_renamed_txt")
    # WHEN it is parsed as what it was declared
    parsed = PARSER.parse(hostile.data, hostile.content_type, heartbeat=_no_heartbeat)
    # THEN it is read as text, PDF syntax and all: a mismatch only validation's sniffing catches
    assert parsed.markdown.startswith("%PDF-1.7\n") and "endobj" in parsed.markdown


@pytest.mark.parametrize(
    ("name", "declared"),
    [
        ("pdf_renamed_txt", "text/plain"),
        ("ascii_pdf_renamed_txt", "text/plain"),
        ("ascii_pdf_renamed_txt", "text/markdown"),
        ("text_renamed_pdf", "application/pdf"),
    ],
)
def test_validation_refuses_content_that_is_not_the_declared_type(name: str, declared: str) -> None:
    # GIVEN the first KiB of a file uploaded under the wrong type
    head = next(f for f in CORPUS if f.name == name).data[:1024]
    # THEN sniffing says it is not what was declared (the upload fails with type_mismatch before any parse)
    assert not sniff_matches(declared, head)


def test_the_encrypted_file_is_a_real_encrypted_pdf_that_opens_with_its_password() -> None:
    import pypdfium2 as pdfium

    # GIVEN the corpus's password-protected file
    data = next(f for f in CORPUS if f.name == "encrypted_with_password").data
    # WHEN opened with the password
    pdf = pdfium.PdfDocument(data, password="secret")
    try:
        text = pdf[0].get_textpage().get_text_range()
    finally:
        pdf.close()
    # THEN its text is there: encrypted_pdf above is about the password, not a broken file
    assert MARKER in text


def test_the_bomb_really_inflates_to_what_it_claims() -> None:
    import zlib

    # GIVEN a bomb stream built without inflating anything
    stream = zeros_deflated(16)
    # WHEN inflated
    inflated = zlib.decompress(stream)
    # THEN it is that many zeros, with a valid checksum, from a stream a thousand times smaller
    assert inflated == bytes(16 << 20) and len(stream) < 20_000


@pytest.mark.parametrize("path", sorted(MALFORMED.glob("*.pdf")), ids=lambda p: p.name)
def test_qpdf_damaged_files_in_the_sandbox_parse_or_get_a_stable_code_in_bounded_time(path: Path) -> None:
    # GIVEN a file qpdf's test suite damaged on purpose (tests/unit/test_parsing.py parses them in-process)
    started = time.monotonic()
    # WHEN the local parser reads it in the sandbox
    try:
        parsed = PARSER.parse(path.read_bytes(), "application/pdf", heartbeat=_no_heartbeat)
    except UnsupportedDocument as exc:
        # THEN it is refused with a stable code
        assert exc.code in STABLE_CODES
    else:
        # OR it parses to text
        assert parsed.page_count >= 1 and parsed.markdown.strip()
    assert time.monotonic() - started < BOUND_SECONDS


# --- the sandbox's limits ----------------------------------------------------------------------------------


def _child_pid() -> int:
    return os.getpid()


def _recording_pid(path: Path, work: Callable[[], object]) -> object:
    path.write_text(str(os.getpid()))
    return work()


def _sleep_forever() -> None:
    while True:
        time.sleep(60)


def _spin_forever() -> None:
    while True:
        pass


def _allocate_at_once() -> bytes:
    return bytes(1 << 30)


def _allocate_gradually() -> list[bytes]:
    held = []
    while True:
        held.append(b"\x01" * (8 << 20))


def _die_by(signum: int) -> None:
    os.kill(os.getpid(), signum)


def _exit_without_a_result() -> None:
    os._exit(3)


def _raise(error: Exception) -> None:
    raise error


def _markdown(megabytes: int) -> str:
    return "Coverage A Dwelling limit 350,000.\n" * (megabytes * 1024 * 1024 // 35)


class _Unpicklable(Exception):
    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("not picklable")


SANDBOX = Sandbox(timeout_seconds=1.0, memory_mb=256)


def test_the_result_comes_back_from_a_separate_process() -> None:
    # WHEN work runs in the sandbox
    pid = SANDBOX.run(_child_pid)
    # THEN it ran in another process
    assert pid != os.getpid()


def test_a_result_larger_than_the_pipe_buffer_does_not_deadlock() -> None:
    # GIVEN work whose result is 24 MB of Markdown, far beyond a pipe's 64 KiB buffer
    # WHEN it runs in the sandbox (a deadlock would end in parse_timeout after 10 s)
    markdown = Sandbox(timeout_seconds=10, memory_mb=512).run(partial(_markdown, 24))
    # THEN the whole result arrives
    assert markdown == _markdown(24)


@pytest.mark.parametrize("work", [_sleep_forever, _spin_forever], ids=["sleeping", "spinning"])
def test_endless_work_is_killed_at_the_wall_time_limit(work: Callable[[], None]) -> None:
    # GIVEN work that never ends, idle or burning CPU
    started = time.monotonic()
    # WHEN it runs in a sandbox with a 1 s limit
    with pytest.raises(UnsupportedDocument) as caught:
        SANDBOX.run(work)
    # THEN it is parse_timeout, an UnsupportedDocument and so permanent (the same file would loop again), just after
    # the limit
    assert caught.value.code == "parse_timeout"
    # (the bound is loose for a busy machine: what matters is the 1 s limit, not the 20 s test timeout)
    assert 1.0 <= time.monotonic() - started < 10


@pytest.mark.parametrize("work", [_allocate_at_once, _allocate_gradually], ids=["at_once", "gradually"])
def test_allocating_past_the_cap_is_parse_memory(work: Callable[[], object]) -> None:
    # GIVEN work that wants more than the 256 MB cap
    # WHEN it runs in the sandbox
    with pytest.raises(UnsupportedDocument) as caught:
        SANDBOX.run(work)
    # THEN the child's MemoryError comes back as parse_memory
    assert caught.value.code == "parse_memory"


@pytest.mark.parametrize(
    ("signum", "code"),
    [
        (signal.SIGSEGV, "corrupt_pdf"),
        (signal.SIGBUS, "corrupt_pdf"),
        (signal.SIGKILL, "corrupt_pdf"),
        # How PDFium (and std::bad_alloc) end on a failed allocation.
        (signal.SIGABRT, "parse_memory"),
        # The CPU-time backstop.
        (signal.SIGXCPU, "parse_timeout"),
    ],
    ids=lambda value: getattr(value, "name", value),
)
def test_a_child_killed_by_a_signal_gets_a_code_and_the_parent_survives(signum: signal.Signals, code: str) -> None:
    # GIVEN a parser that crashes the way C libraries do
    # WHEN it runs in the sandbox
    with pytest.raises(UnsupportedDocument) as caught:
        SANDBOX.run(partial(_die_by, signum))
    # THEN the crash is a permanent failure with a code
    assert caught.value.code == code
    # AND this process is unharmed and the next run works
    assert SANDBOX.run(_child_pid) != os.getpid()


def test_a_child_that_exits_without_a_result_is_corrupt_pdf() -> None:
    with pytest.raises(UnsupportedDocument) as caught:
        SANDBOX.run(_exit_without_a_result)
    assert caught.value.code == "corrupt_pdf"


def test_the_parsers_own_errors_keep_their_class_and_code() -> None:
    # GIVEN a parser refusing a file, and one failing on a dependency
    # WHEN they run in the sandbox
    with pytest.raises(UnsupportedDocument) as refused:
        SANDBOX.run(partial(_raise, UnsupportedDocument("PDF is encrypted", code="encrypted_pdf")))
    with pytest.raises(DependencyUnavailable) as unavailable:
        SANDBOX.run(partial(_raise, DependencyUnavailable("down")))
    # THEN both come back as raised: permanent with its code, transient as transient
    assert refused.value.code == "encrypted_pdf" and str(refused.value) == "PDF is encrypted"
    assert unavailable.value.code == "dependency_unavailable"


def test_unknown_errors_come_back_as_themselves_with_the_childs_frames() -> None:
    # GIVEN a parser with a bug
    # WHEN it runs in the sandbox
    with pytest.raises(ValueError, match="a bug") as caught:
        SANDBOX.run(partial(_raise, ValueError("a bug")))
    # THEN it stays an unknown error (retried, then dead-lettered) and says where it happened
    assert any("_raise" in note for note in getattr(caught.value, "__notes__", []))
    # AND one that cannot cross the pipe is named by its type
    with pytest.raises(RuntimeError, match="_Unpicklable"):
        SANDBOX.run(partial(_raise, _Unpicklable("x")))


def test_an_unpicklable_result_is_an_error_not_a_hang() -> None:
    with pytest.raises(RuntimeError, match="could not be sent"):
        SANDBOX.run(lambda: lambda: None)


def test_the_heartbeat_is_called_while_the_child_works() -> None:
    # GIVEN a sandbox that heartbeats every 0.1 s, and work that takes 0.55 s
    beats: list[float] = []
    sandbox = Sandbox(timeout_seconds=5, memory_mb=256, heartbeat_seconds=0.1)
    # WHEN it runs
    started = time.monotonic()
    result = sandbox.run(partial(_recording_then_sleeping, 0.55), heartbeat=lambda: beats.append(time.monotonic()))
    elapsed = time.monotonic() - started
    # THEN the result arrives and the caller's heartbeat ran in between, once a period and no more (on a
    # loaded machine the child starts late and the run lasts longer: the bound follows the run, not the work)
    assert result == "done"
    assert 3 <= len(beats) <= elapsed / 0.09 + 1
    assert all(later - earlier >= 0.09 for earlier, later in pairwise(beats))


def _recording_then_sleeping(seconds: float) -> str:
    time.sleep(seconds)
    return "done"


def test_a_failing_heartbeat_stops_the_child_and_propagates(tmp_path: Path) -> None:
    # GIVEN a heartbeat that learns the lease was lost, during endless work (once the child has started it:
    # a child that starts slowly, as under coverage, has no pid to check yet)
    pid_file = tmp_path / "pid"

    def lost() -> None:
        if pid_file.exists():
            raise LeaseLost("lease lost while working")

    sandbox = Sandbox(timeout_seconds=30, memory_mb=256, heartbeat_seconds=0.1)
    started = time.monotonic()
    # WHEN the sandbox waits
    with pytest.raises(LeaseLost):
        sandbox.run(partial(_recording_pid, pid_file, _sleep_forever), heartbeat=lost)
    # THEN the work stops at the first heartbeat, long before the 30 s limit, and the child is gone
    assert time.monotonic() - started < 15
    with pytest.raises(ChildProcessError):
        os.waitpid(int(pid_file.read_text()), os.WNOHANG)


def test_every_child_is_reaped_and_no_descriptor_leaks(tmp_path: Path) -> None:
    # GIVEN this process's open descriptors
    before = set(os.listdir("/proc/self/fd"))
    quick = Sandbox(timeout_seconds=0.5, memory_mb=256)
    works: dict[str, Callable[[], object]] = {
        "ok": _child_pid,
        "timeout": _sleep_forever,
        "segfault": partial(_die_by, signal.SIGSEGV),
        "memory": _allocate_at_once,
        "error": partial(_raise, ValueError("a bug")),
        "big": partial(_markdown, 2),
    }
    # WHEN a child ends in each way
    for name, work in works.items():
        pid_file = tmp_path / name
        with contextlib.suppress(UnsupportedDocument, ValueError):
            quick.run(partial(_recording_pid, pid_file, work))
        # THEN it has been waited for: no zombie is left
        with pytest.raises(ChildProcessError):
            os.waitpid(int(pid_file.read_text()), os.WNOHANG)
    # AND no pipe or sentinel descriptor is left open
    assert set(os.listdir("/proc/self/fd")) == before
