"""Runs the chunking benchmark: each splitter on the same ~1 MB and ~8 MB of policy Markdown, one process.

``python -m bench.chunk [--strict] [--seed N] [--out PATH]``

Every splitter gets chunk size 1000 and overlap 200, counted in characters: semchunk counts with ``len``
and chonkie with its character tokenizer. A splitter object is built afresh before every timed run (outside
the timed span), so no memo from an earlier run helps a later one; each splitter first warms up once on
100 kB. The time kept is the best of 5 runs at each size (``time.perf_counter``), the runs
going round the splitters in turn so that load on a shared machine falls on all of them alike, and with the
process's existing objects frozen out of the garbage collector (``gc.freeze``: its full passes would walk
every peer's imported library too, so an 8 MB run paid for the process, not the splitter); MB/s is UTF-8
megabytes (10^6 bytes) of input per second.

Targets (the decision in force): docintake at least 1x the throughput of each structure-aware peer at both
sizes -- LangChain's MarkdownHeaderTextSplitter with RecursiveCharacterTextSplitter on each header section
(timed together as one splitter), semchunk, and chonkie's RecursiveChunker with OverlapRefinery (docintake
overlaps, so that is chonkie's like-for-like row) -- and 8 MB taking at most 9x the 1 MB time. The raw
character splitters and the other extra rows are in the table for information, not targets. ``--strict``
exits 1 when any target is missed or a target peer is not installed.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence, Sized
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

SIZE = 1000
OVERLAP = 200
MB = 1_000_000
# (input bytes, runs): the best of the runs is kept.
INPUTS: tuple[tuple[int, int], ...] = ((1 * MB, 5), (8 * MB, 5))
WARMUP_BYTES = 100_000
TARGET_SPEEDUP = 1.0  # docintake vs each structure-aware peer (PEERS)
TARGET_SCALING = 9.0  # 8 MB time / 1 MB time
HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3"), ("####", "h4")]  # MarkdownHeaderTextSplitter splits at these
OUT = Path(__file__).resolve().parents[1] / "out" / "chunk.md"

Split = Callable[[str], Sized]  # text -> its chunks


@dataclass(frozen=True)
class Splitter:
    name: str
    package: str  # distribution whose version is reported
    prepare: Callable[[], Split]  # builds a fresh splitter; imports lazily, so a missing peer is an ImportError
    note: str


@dataclass
class Result:
    splitter: Splitter
    seconds: dict[int, float] = field(default_factory=dict)  # input bytes -> best time
    chunks: dict[int, int] = field(default_factory=dict)
    error: str = ""


def _docintake() -> Split:
    from docintake.chunking import chunk_markdown
    from docintake.parsing import PageMap

    page_map = PageMap.single_page()
    return lambda text: chunk_markdown(text, page_map, size=SIZE, overlap=OVERLAP)


def _recursive_character() -> Split:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(chunk_size=SIZE, chunk_overlap=OVERLAP).split_text


def _recursive_character_markdown() -> Split:
    from langchain_text_splitters import Language, RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter.from_language(Language.MARKDOWN, chunk_size=SIZE, chunk_overlap=OVERLAP)
    return splitter.split_text


def _markdown_header() -> Split:
    from langchain_text_splitters import MarkdownHeaderTextSplitter

    return MarkdownHeaderTextSplitter(headers_to_split_on=HEADERS).split_text


def _markdown_header_then_recursive() -> Split:
    from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

    by_header = MarkdownHeaderTextSplitter(headers_to_split_on=HEADERS)
    by_size = RecursiveCharacterTextSplitter(chunk_size=SIZE, chunk_overlap=OVERLAP)
    return lambda text: by_size.split_documents(by_header.split_text(text))


def _semchunk() -> Split:
    import semchunk

    # A memo of len() only costs time (and semchunk's memo is global, so it would carry over between runs).
    return lambda text: semchunk.chunk(text, chunk_size=SIZE, token_counter=len, overlap=OVERLAP, memoize=False)


def _chonkie_with_overlap() -> Split:
    from chonkie import OverlapRefinery, RecursiveChunker

    chunker = RecursiveChunker(tokenizer="character", chunk_size=SIZE)
    refinery = OverlapRefinery(tokenizer="character", context_size=OVERLAP, method="prefix")
    return lambda text: refinery.refine(chunker.chunk(text))


def _chonkie() -> Split:
    from chonkie import RecursiveChunker

    return RecursiveChunker(tokenizer="character", chunk_size=SIZE).chunk


DOCINTAKE = "docintake chunk_markdown"
HEADER_PAIR = "langchain MarkdownHeaderTextSplitter + RecursiveCharacterTextSplitter"
SEMCHUNK = "semchunk"
CHONKIE = "chonkie RecursiveChunker + OverlapRefinery"
PEERS = (HEADER_PAIR, SEMCHUNK, CHONKIE)  # the structure-aware peers the targets compare docintake with
SPLITTERS: tuple[Splitter, ...] = (
    Splitter(DOCINTAKE, "docintake", _docintake, "structure-aware: headings, tables, sentences; page spans and ids"),
    Splitter(
        HEADER_PAIR,
        "langchain-text-splitters",
        _markdown_header_then_recursive,
        "target: headings # to #### split first, then `split_documents` cuts each section to 1000 / 200, "
        "timed together, as LangChain's docs chain them",
    ),
    Splitter(SEMCHUNK, "semchunk", _semchunk, "target: token_counter=len (characters), overlap=200, memoize=False"),
    Splitter(
        CHONKIE,
        "chonkie",
        _chonkie_with_overlap,
        "target: character tokenizer; the chunker has no overlap, so OverlapRefinery adds 200 characters (prefix)",
    ),
    Splitter(
        "langchain RecursiveCharacterTextSplitter",
        "langchain-text-splitters",
        _recursive_character,
        "for information, not a target: a raw character splitter, default separators (paragraph, line, word)",
    ),
    Splitter(
        "langchain RecursiveCharacterTextSplitter (Markdown)",
        "langchain-text-splitters",
        _recursive_character_markdown,
        "for information, not a target: `from_language(Language.MARKDOWN)` separators (headings, rules, blank lines…)",
    ),
    Splitter(
        "langchain MarkdownHeaderTextSplitter",
        "langchain-text-splitters",
        _markdown_header,
        "for information: the pair's first half alone, headings # to #### only, no size or overlap",
    ),
    Splitter(
        "chonkie RecursiveChunker (no overlap)",
        "chonkie",
        _chonkie,
        "for information: the chunker alone, without the refinery",
    ),
)


def _time_once(splitter: Splitter, text: str) -> tuple[float, int]:
    split = splitter.prepare()
    gc.collect()
    # What exists now (every splitter's imports, the inputs) is left out of the collector's full passes:
    # those would walk the peers' libraries too, a cost that grows with whatever else the process holds.
    gc.freeze()
    try:
        started = time.perf_counter()
        chunks = split(text)
        elapsed = time.perf_counter() - started
    finally:
        gc.unfreeze()
    return elapsed, len(chunks)


def _measure(texts: dict[int, str]) -> list[Result]:
    """Each splitter's best time per input. The runs go round the splitters in turn (one run of each, then
    the next round), so a spell of load on this shared machine slows every splitter alike instead of
    whichever one was running then."""
    results = [Result(splitter) for splitter in SPLITTERS]
    warmup = next(iter(texts.values()))[:WARMUP_BYTES]
    for result in results:
        try:
            result.splitter.prepare()(warmup)
        except ImportError as exc:
            result.error = f"not installed ({exc.name})"
    ready = [result for result in results if not result.error]
    for nominal, runs in INPUTS:
        for _ in range(runs):
            for result in ready:
                seconds, chunks = _time_once(result.splitter, texts[nominal])
                result.seconds[nominal] = min(result.seconds.get(nominal, float("inf")), seconds)
                result.chunks[nominal] = chunks
        print(f"  {nominal // MB} MB: done", file=sys.stderr, flush=True)
    return results


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _report(results: list[Result], texts: dict[int, str], seed: int, total_seconds: float) -> tuple[str, bool]:
    small, large = (nominal for nominal, _ in INPUTS)
    size_of = {nominal: len(text.encode("utf-8")) for nominal, text in texts.items()}

    def mb_s(result: Result, nominal: int) -> float:
        return size_of[nominal] / MB / result.seconds[nominal]

    lines = [
        "# Chunking benchmark",
        "",
        f"Input: `policy_markdown(seed={seed})` of {size_of[small]:,} and {size_of[large]:,} bytes (UTF-8). "
        f"Every splitter: chunk size {SIZE}, overlap {OVERLAP} characters. Best of "
        + " / ".join(f"{runs} ({nominal // MB} MB)" for nominal, runs in INPUTS)
        + f" runs, one process; Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}.",
        "",
        f"| splitter | {small // MB} MB MB/s | {large // MB} MB MB/s | chunks at {small // MB} MB "
        f"| {large // MB} MB / {small // MB} MB time |",
        "|---|---:|---:|---:|---:|",
    ]
    for result in results:
        if result.error:
            lines.append(f"| {result.splitter.name} | {result.error} | | | |")
            continue
        ratio = result.seconds[large] / result.seconds[small]
        lines.append(
            f"| {result.splitter.name} | {mb_s(result, small):.2f} | {mb_s(result, large):.2f} "
            f"| {result.chunks[small]:,} | {ratio:.2f}× |"
        )

    by_name = {r.splitter.name: r for r in results if not r.error}
    ours = by_name.get(DOCINTAKE)
    met = True
    lines.append("")
    for peer_name in PEERS:
        peer = by_name.get(peer_name)
        if not (ours and peer):
            met = False
            lines.append(f"docintake / {peer_name}: not measured — MISSED")
            continue
        speedups = {n: peer.seconds[n] / ours.seconds[n] for n, _ in INPUTS}
        worst = min(speedups.values())
        met &= worst >= TARGET_SPEEDUP
        detail = ", ".join(f"{n // MB} MB {s:.2f}×" for n, s in speedups.items())
        lines.append(
            f"docintake / {peer_name}: {worst:.2f}× "
            f"(target ≥ {TARGET_SPEEDUP:g}×; {detail}) — {'met' if worst >= TARGET_SPEEDUP else 'MISSED'}"
        )
    if ours:
        scaling = ours.seconds[large] / ours.seconds[small]
        met &= scaling <= TARGET_SCALING
        lines.append(
            f"docintake {large // MB} MB / {small // MB} MB time: {scaling:.2f}× "
            f"(target ≤ {TARGET_SCALING:g}×) — {'met' if scaling <= TARGET_SCALING else 'MISSED'}"
        )

    lines += ["", "Notes:", ""]
    lines += [f"- {r.splitter.name} ({_version(r.splitter.package)}): {r.splitter.note}" for r in results]
    lines += ["", f"Whole run: {total_seconds:.0f} s."]
    return "\n".join(lines) + "\n", met


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chunk", description="Chunking throughput against peers.")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated policy Markdown")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write the report (default {OUT})")
    args = parser.parse_args(argv)

    # Peers log a warning for every over-long piece; the table is the output.
    logging.getLogger("langchain_text_splitters").setLevel(logging.ERROR)
    os.environ.setdefault("CHONKIE_LOG", "off")
    started = time.perf_counter()
    from docintake_local.sample_documents import policy_markdown

    texts = {nominal: policy_markdown(nominal, seed=args.seed) for nominal, _ in INPUTS}
    results = _measure(texts)
    report, met = _report(results, texts, args.seed, time.perf_counter() - started)
    print(report, end="")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    return 1 if args.strict and not met else 0
