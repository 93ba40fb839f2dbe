"""``python -m bench.all`` (``make bench``): every benchmark in one run, then ``bench/results.md`` and
``bench/results.png``.

Runs parse, chunk, store, cold start, end to end and policy fields (development and held-out real documents
apart), each as its own process (so one's memory and imports do not colour another's), and collects their
reports (``bench/out/*.md``) under one header with the machine and the date. The figure plots end-to-end
throughput (pages/s) against document size for docintake and the peers, from ``bench/out/e2e.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
RESULTS = ROOT / "bench" / "results.md"
FIGURE = ROOT / "bench" / "results.png"
# (module, arguments, report): parse runs each corpus document once here (its own target uses three).
BENCHMARKS: tuple[tuple[str, list[str], str], ...] = (
    ("bench.parse", ["--repeat", "1"], "parse.md"),
    ("bench.chunk", [], "chunk.md"),
    ("bench.store", [], "store.md"),
    ("bench.coldstart", ["--runs", "5"], "coldstart.md"),
    ("bench.e2e", [], "e2e.md"),
    ("bench.fields", [], "fields.md"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.all", description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", help="module names to run, e.g. bench.e2e (default: all)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    timings: list[tuple[str, float, int]] = []
    for module, extra, _ in BENCHMARKS:
        if args.only and module not in args.only:
            continue
        print(f"== {module} ==", file=sys.stderr, flush=True)
        began = time.perf_counter()
        code = subprocess.run([sys.executable, "-m", module, *extra], cwd=ROOT, check=False).returncode
        timings.append((module, time.perf_counter() - began, code))
    total = time.perf_counter() - started
    sections = [
        "# docintake benchmarks",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {platform.machine()} · {os.cpu_count()} cores ·"
        f" Python {platform.python_version()} · {platform.platform()}",
        "",
        "Rerun with `make bench` (all, under 10 minutes on 2 cores) or `make bench-parse`, `make bench-chunk`,"
        " `make bench-store`, `make bench-coldstart`, `make bench-e2e`, `make bench-fields`.",
        "",
        "| benchmark | seconds | exit |",
        "|---|---:|---:|",
        *[f"| {module} | {seconds:.0f} | {code} |" for module, seconds, code in timings],
        f"| total | {total:.0f} | |",
        "",
        "![throughput against document size](results.png)",
    ]
    for _, _, report in BENCHMARKS:
        path = OUT / report
        if path.exists():
            sections += ["", _demote(path.read_text(encoding="utf-8"))]
    RESULTS.write_text("\n".join(sections) + "\n", encoding="utf-8")
    if (OUT / "e2e.json").exists():
        figure(json.loads((OUT / "e2e.json").read_text(encoding="utf-8")))
    print(f"wrote {RESULTS.relative_to(ROOT)} and {FIGURE.relative_to(ROOT)} in {total:.0f} s")
    return 0 if all(code == 0 for _, _, code in timings) else 1


def _demote(markdown: str) -> str:
    """Each report's headings one level down, under results.md's own."""
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.splitlines())


def figure(e2e: dict[str, object]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scaling = e2e["scaling"]
    assert isinstance(scaling, dict)
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for system, points in scaling.items():
        pages = [p for p, _ in points]
        ax.plot(pages, [p / t for p, t in points], marker="o", label=system)
    ax.set_xscale("log")
    ax.set_xlabel("pages in the document")
    ax.set_ylabel("pages per second, upload to vectors")
    ax.set_title("End-to-end throughput against document size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(FIGURE)


if __name__ == "__main__":
    raise SystemExit(main())
