"""The parse sandbox's limits as the child sees them: the address-space cap over what the child inherited, the CPU
backstop, no core file, and a result that fits the cap once but not the second time that sending it takes."""

from __future__ import annotations

import builtins
import resource
from functools import partial
from typing import Any

import pytest

from docintake.errors import UnsupportedDocument
from docintake.parsing import sandbox as sandbox_module
from docintake.parsing.sandbox import Sandbox

MB = 1024 * 1024


def _limits() -> dict[str, tuple[int, int]]:
    return {
        "as": resource.getrlimit(resource.RLIMIT_AS),
        "cpu": resource.getrlimit(resource.RLIMIT_CPU),
        "core": resource.getrlimit(resource.RLIMIT_CORE),
    }


def test_the_child_runs_under_the_cap_over_what_it_inherited_the_cpu_backstop_and_no_core_file() -> None:
    # GIVEN a sandbox with a 128 MB allowance and a 3 s limit
    sandbox = Sandbox(timeout_seconds=3, memory_mb=128)
    inherited = sandbox_module._mapped_bytes()
    # WHEN the child reports its own limits
    limits = sandbox.run(_limits)
    # THEN its address space is what it inherited from this process plus the allowance, soft and hard alike (the
    # fork copies the mappings; the slack covers what either process mapped or unmapped in between)
    soft, hard = limits["as"]
    assert soft == hard
    assert abs(soft - (inherited + 128 * MB)) < 64 * MB
    # AND its CPU limit is the backstop past the wall limit (hard one second later, when SIGKILL follows SIGXCPU)
    assert limits["cpu"] == (sandbox.cpu_seconds, sandbox.cpu_seconds + 1)
    assert sandbox.cpu_seconds >= 3 + 2
    # AND a crash writes no core file of the document's memory
    assert limits["core"] == (0, 0)
    # AND none of it reached this process
    assert resource.getrlimit(resource.RLIMIT_AS) != limits["as"]


class _Swelling:
    """A result small in memory whose pickled form is ``megabytes`` of zeros: sending it takes that much again."""

    def __init__(self, megabytes: int) -> None:
        self.megabytes = megabytes

    def __reduce__(self) -> tuple[object, ...]:
        return (bytes, (bytes(self.megabytes * MB),))


def test_a_result_that_fits_the_cap_but_not_the_copy_sending_takes_is_parse_memory() -> None:
    # GIVEN work whose result fits a 64 MB allowance, but pickling it for the pipe needs 256 MB more
    # WHEN it runs under that allowance
    with pytest.raises(UnsupportedDocument) as caught:
        Sandbox(timeout_seconds=10, memory_mb=64).run(partial(_Swelling, 256))
    # THEN the failed send is reported as the cap, a permanent parse_memory, and not as a crash or a hang
    assert caught.value.code == "parse_memory"
    assert "64 MB" in str(caught.value)
    # AND a result whose copy fits arrives whole, as what it pickles to
    result = Sandbox(timeout_seconds=10, memory_mb=64).run(partial(_Swelling, 8))
    assert result == bytes(8 * MB)


def test_the_inherited_size_is_the_processes_vmsize_and_nothing_where_proc_cannot_be_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN this process's VmSize as /proc reports it
    with open("/proc/self/status", encoding="ascii") as status:
        vmsize_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    # WHEN the sandbox reads it
    mapped = sandbox_module._mapped_bytes()
    # THEN it is the same size in bytes (give or take what was mapped in between)
    assert abs(mapped - vmsize_kb * 1024) < 64 * MB
    assert mapped > 0

    # GIVEN a system whose /proc cannot be read
    def no_proc(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path).startswith("/proc/"):
            raise PermissionError(path)
        return builtins.open(path, *args, **kwargs)

    monkeypatch.setattr(sandbox_module, "open", no_proc, raising=False)
    # WHEN the sandbox reads it
    # THEN nothing is added under the allowance: the cap is the allowance alone
    assert sandbox_module._mapped_bytes() == 0


def test_where_the_cpus_allowed_are_unknown_the_cpu_backstop_counts_every_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a system without sched_getaffinity (not Linux) and 6 CPUs
    monkeypatch.delattr(sandbox_module.os, "sched_getaffinity")
    monkeypatch.setattr(sandbox_module.os, "cpu_count", lambda: 6)
    # WHEN the sandbox works out the child's CPU limit for a 2.5 s wall limit
    # THEN it is the wall limit, rounded up, on all 6 CPUs, plus the slack
    assert Sandbox(timeout_seconds=2.5, memory_mb=64).cpu_seconds == 3 * 6 + 2
    # AND a system that cannot count its CPUs is taken to have one
    monkeypatch.setattr(sandbox_module.os, "cpu_count", lambda: None)
    assert Sandbox(timeout_seconds=2.5, memory_mb=64).cpu_seconds == 3 + 2
