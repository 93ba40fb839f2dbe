"""The parse sandbox: untrusted bytes are parsed in a forked child with a memory cap and a wall-time limit.

A hostile PDF can loop forever, inflate a stream to gigabytes or crash the C library under the parser; in
the child that costs the child, never the handler. What comes back is the parser's result or one of:

    UnsupportedDocument  parse_timeout    the wall-time limit passed (the child is SIGKILLed), or the CPU limit
                                          (a backstop: the wall time x the CPUs the child may use, plus slack)
                         parse_memory     the child hit its address-space cap: MemoryError, or SIGABRT (a C
                                          library's failed allocation)
                         (crash_code)     the child died by another signal or exited without a result; the
                                          caller names the file type: corrupt_pdf (the default), corrupt_docx,
                                          corrupt_html or corrupt_image
                         (the parser's)   whatever DocintakeError the parser raised, with its code

All are permanent: the same bytes through the same parser give the same answer, so a retry would only burn
another maxReceiveCount x timeout. A parse that outlasts the limit once will do so again; the limit sits far
above a legitimate parse (a 300-page policy takes seconds), so a near miss on a slow host is not a worry.
Any other exception the parser raises (a bug, not a file) is re-raised as it is and stays unknown, i.e.
transient: retried, then dead-lettered, where someone will look at it.

The limits contain resource exhaustion and crashes, not code execution: the child has the parent's
credentials, descriptors and network, so a parser exploit owns the function either way, and unpickling
what the child sends gives it nothing more. Keeping the parsing libraries patched is the defence there.
"""

from __future__ import annotations

import faulthandler
import math
import multiprocessing
import os
import pickle
import resource
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Generic, NoReturn, TypeVar

from docintake.errors import DocintakeError, UnsupportedDocument
from docintake.parsing import Heartbeat
from docintake.vocabulary import ErrorCode

T = TypeVar("T")

# A child that has answered only has to exit; one that has not by then is killed.
_EXIT_GRACE_SECONDS = 5.0
# RLIMIT_CPU counts the CPU time of all the child's threads, and OCR (onnxruntime) keeps every CPU busy: a
# limit of the wall time alone would stop a multi-threaded parse at a fraction of its wall budget. So the
# limit is the wall time x the CPUs the child may run on, plus this slack: the parent's timer always fires
# first, and the CPU limit is only a backstop should the parent itself be stuck.
_CPU_SLACK_SECONDS = 2


@dataclass(frozen=True)
class _Ok(Generic[T]):
    value: T


@dataclass(frozen=True)
class _Raised:
    error: BaseException


@dataclass(frozen=True)
class Sandbox:
    timeout_seconds: float
    memory_mb: int
    # The caller's heartbeat (lease and message visibility) is called this often while the child works.
    heartbeat_seconds: float = 10.0
    # What a child that died without a result says about the file it was reading.
    crash_code: str = ErrorCode.CORRUPT_PDF

    @property
    def cpu_seconds(self) -> int:
        """The child's RLIMIT_CPU (see _CPU_SLACK_SECONDS): the wall limit on every CPU it may use, plus slack."""
        try:
            cpus = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):  # not Linux
            cpus = os.cpu_count() or 1
        return math.ceil(self.timeout_seconds) * max(cpus, 1) + _CPU_SLACK_SECONDS

    def run(self, work: Callable[[], T], *, heartbeat: Heartbeat | None = None) -> T:
        """Runs ``work`` in a forked child and returns its result, or raises as the module docstring says.

        ``work`` is not pickled (the child is a fork and already has it); its result travels back pickled.
        An exception from ``heartbeat`` (e.g. LeaseLost) kills the child and propagates.

        Why fork although the parent (the Lambda runtime, boto3) may have threads: only the calling thread
        exists in the child, so a lock another thread held at fork time stays held there. The child touches
        none of those: it runs the parser, which allocates (glibc resets malloc's locks in the child) and
        needs no import (local.py imports the parser before forking), then writes to a pipe and leaves by
        os._exit without logging, atexit handlers or flushing the parent's clients. A child that did
        deadlock anyway is caught by the wall-time limit. In exchange the up-to-50-MB upload is shared
        copy-on-write instead of pickled, and no interpreter has to start (spawn costs ~1 s of imports).
        A Pipe rather than a Queue: Lambda has no /dev/shm, which Queue's semaphores need.
        """
        context = multiprocessing.get_context("fork")
        reader, writer = context.Pipe(duplex=False)
        process = context.Process(
            target=_child, args=(work, writer, self.memory_mb, self.cpu_seconds), name="docintake-parse", daemon=True
        )
        outcome: _Ok[T] | _Raised | None = None
        exitcode: int | None = None
        started = finished = False
        try:
            process.start()
            started = True
            # Only the child may hold the write end, so the pipe reads EOF when the child dies.
            writer.close()
            outcome = self._wait(reader, process, heartbeat)
            finished = True
        finally:
            writer.close()
            if started:
                # Always reaped. A child that sent its result or closed the pipe by dying only has to finish
                # exiting; after a timeout or a failed heartbeat it is killed now.
                process.join(_EXIT_GRACE_SECONDS if finished else 0)
                if process.exitcode is None:
                    process.kill()
                    process.join()
                exitcode = process.exitcode
            reader.close()
            process.close()
        if isinstance(outcome, _Ok):
            return outcome.value
        if isinstance(outcome, _Raised):
            raise outcome.error
        return self._died(-signal.SIGKILL if exitcode is None else exitcode)

    def _wait(
        self, reader: Connection, process: multiprocessing.process.BaseProcess, heartbeat: Heartbeat | None
    ) -> _Ok[T] | _Raised | None:
        """The child's message, or None when it died without one. Raises parse_timeout at the deadline."""
        now = time.monotonic()
        deadline = now + self.timeout_seconds
        next_beat = now + self.heartbeat_seconds
        while True:
            if now >= deadline:
                raise UnsupportedDocument(
                    f"parsing took longer than {self.timeout_seconds:g} s", code=ErrorCode.PARSE_TIMEOUT
                )
            if heartbeat is not None and now >= next_beat:
                heartbeat()
                next_beat = time.monotonic() + self.heartbeat_seconds
            until = min(deadline, next_beat) if heartbeat is not None else deadline
            ready = wait([reader, process.sentinel], timeout=max(until - time.monotonic(), 0))
            # Received before the child is joined: a result larger than the pipe buffer would otherwise
            # leave the child blocked in write and the parent in join. A result sent just before the child
            # exited is still in the pipe, so the reader is polled even when only the sentinel fired.
            if reader in ready or (ready and reader.poll()):
                try:
                    message: _Ok[T] | _Raised = reader.recv()
                except (EOFError, OSError):
                    return None
                return message
            if ready:
                return None
            now = time.monotonic()

    def _died(self, exitcode: int) -> NoReturn:
        if exitcode == -signal.SIGXCPU:
            raise UnsupportedDocument(
                f"parsing used more than {self.cpu_seconds} s of CPU", code=ErrorCode.PARSE_TIMEOUT
            )
        if exitcode == -signal.SIGABRT:
            # PDFium ends the process with abort() when an allocation fails (so does C++'s std::bad_alloc
            # through std::terminate, and CPython's fatal out-of-memory errors), and under the cap that is how
            # a decompression bomb ends: measured, a 4 GiB Flate stream aborts at 494 MB of a 512 MB cap.
            # PDFium's own consistency checks trap (SIGTRAP/SIGILL) instead; glibc's heap-corruption abort
            # would be mislabelled here, but it is permanent all the same.
            raise _out_of_memory(self.memory_mb)
        # Any other signal (SIGSEGV, SIGBUS, SIGILL, or a SIGKILL from the kernel) may still have been caused
        # by the cap, but nothing says so: the file is called corrupt.
        how = f"killed by {signal.Signals(-exitcode).name}" if exitcode < 0 else f"exited with {exitcode}"
        raise UnsupportedDocument(f"the parser {how} without a result", code=self.crash_code)


def _child(work: Callable[[], Any], writer: Connection, memory_mb: int, cpu_seconds: int) -> None:
    """Runs in the forked child: limit, work, send one message, return (multiprocessing then os._exit()s)."""
    message: _Ok[Any] | _Raised
    try:
        _limit(memory_mb, cpu_seconds)
        message = _Ok(work())
    except MemoryError:
        message = _Raised(_out_of_memory(memory_mb))
    except DocintakeError as exc:
        message = _Raised(exc)
    except Exception as exc:
        message = _Raised(_portable(exc))
    try:
        try:
            writer.send(message)
        except MemoryError:
            # Pickling the result needs a copy of it; a result that fits the cap once but not twice.
            writer.send(_Raised(_out_of_memory(memory_mb)))
        except Exception as exc:
            writer.send(_Raised(RuntimeError(f"the parse result could not be sent: {type(exc).__name__}")))
    finally:
        writer.close()


def _limit(memory_mb: int, cpu_seconds: int) -> None:
    # A crash is an expected outcome here, which the parent reports with a code; where faulthandler is on
    # (pytest, PYTHONFAULTHANDLER; not the Lambda runtime) every hostile file would also dump a stack.
    faulthandler.disable()
    # Soft and hard alike, so the parser cannot raise them again. The address-space cap is what the child
    # inherited from the parent (its imports, its threads' stacks: it varies with the host process) plus
    # memory_mb for the parse itself, so the same setting means the same allowance everywhere.
    memory = _mapped_bytes() + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    # Past the soft limit SIGXCPU ends the child (reported as parse_timeout), past the hard one SIGKILL.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    # A crashing parser must not write a core file of the document's memory to /tmp.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _mapped_bytes() -> int:
    """The process's current virtual size (VmSize), or 0 where /proc does not tell."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _out_of_memory(memory_mb: int) -> UnsupportedDocument:
    return UnsupportedDocument(f"parsing needed more than {memory_mb} MB", code=ErrorCode.PARSE_MEMORY)


def _portable(exc: Exception) -> Exception:
    """The exception itself if it survives pickling, else a RuntimeError naming its type. The child's frames
    (file, line and source, never the message, which could quote the document) travel as a note."""
    exc.add_note("in the parse sandbox:\n" + "".join(traceback.format_tb(exc.__traceback__)))
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own object, round-tripped to see that it survives
    except Exception:
        return RuntimeError(f"{type(exc).__qualname__} in the parse sandbox")
    return exc
