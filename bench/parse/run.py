"""Runs bench/parse: every parser, each in a fresh worker process, on the corpus and on the large document.

Inputs are generated (deterministically) by ``docintake_local.ground_truth`` into ``bench/out/parse/``;
each worker's Markdown is scored there by ``docintake_local.parse_quality``. Then the real-world tables
corpus (``../shared/corpus/tables``, beside the repository): docintake, pdfplumber's default table finder
and pymupdf4llm, each output scored by the corpus's own ``score.py`` (imported from there, not copied).
The report (a Markdown table per input set, the tables lines, then ratio lines against the issue's
targets) is printed and written to ``bench/out/parse.md``, the numbers to ``bench/out/parse.json``.
``--strict`` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pypdfium2 as pdfium

from docintake_local.ground_truth import TruthDocument, ground_truth_corpus, large_document
from docintake_local.parse_quality import QualityScores, combine, score

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out"
TABLES = ROOT.parent / "shared" / "corpus" / "tables"  # real-world tables with ground truth, beside the repo
PARSERS = ("docintake", "pymupdf4llm", "pdfplumber", "pypdf")
TABLE_PARSERS = ("docintake", "pdfplumber", "pymupdf4llm")
OURS = "docintake"
WORKER_TIMEOUT_S = 900


@dataclass(frozen=True)
class Suite:
    """An input set: the corpus (timed ``repeat`` times) or the large document (its own targets)."""

    title: str
    folder: str
    docs: list[TruthDocument]
    repeat: int
    large: bool = False

    @property
    def pages(self) -> int:
        return sum(doc.pages for doc in self.docs)


@dataclass(frozen=True)
class Run:
    """One parser on one input set."""

    parser: str
    pages: int
    seconds: float  # sum over the documents of the median parse time
    peak_rss_mb: float
    scores: QualityScores | None
    error: str = ""

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Target:
    text: str
    met: bool

    def line(self) -> str:
        return f"{self.text} {'ok' if self.met else 'MISSED'}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--parsers", nargs="+", choices=PARSERS, default=list(PARSERS))
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per corpus document (median kept)")
    parser.add_argument("--pages", type=int, default=300, help="pages of the large document")
    parser.add_argument("--megabytes", type=float, default=25.0, help="size of the large document")
    parser.add_argument("--no-large", action="store_true", help="skip the large document")
    parser.add_argument("--no-tables", action="store_true", help="skip the real-world tables corpus")
    args = parser.parse_args(argv)

    inputs = OUT / "parse"
    started = time.perf_counter()
    corpus = ground_truth_corpus(seed=0)
    suites = [Suite("synthetic corpus", "corpus", corpus, args.repeat)]
    if not args.no_large:
        large = large_document(args.pages, int(args.megabytes * 1_000_000))
        suites.append(Suite(f"{large.pages}-page document", "large", [large], 1, large=True))
    warmup = inputs / "warmup.pdf"
    warmup.parent.mkdir(parents=True, exist_ok=True)
    warmup.write_bytes(corpus[0].data)
    sizes = ", ".join(f"{s.title}: {s.pages} pages, {sum(len(d.data) for d in s.docs) / 1e6:.1f} MB" for s in suites)
    print(f"inputs generated in {time.perf_counter() - started:.1f} s ({sizes})", flush=True)

    results: dict[str, dict[str, Run]] = {}
    for suite in suites:
        paths = _write_inputs(inputs / suite.folder, suite.docs)
        results[suite.title] = {}
        for name in args.parsers:
            run = _run_worker(name, inputs / suite.folder / name, paths, suite, warmup)
            results[suite.title][name] = run
            print(f"  {suite.title}: {name} {run.seconds:.2f} s {run.error}".rstrip(), flush=True)

    report = _report(results, suites, args.parsers)
    targets = _targets(results, suites)
    tables_scores: dict[str, dict[str, float]] = {}
    if not args.no_tables:
        tables = _tables_corpus([p for p in args.parsers if p in TABLE_PARSERS], args.repeat)
        report += ["", *tables.report]
        targets += tables.targets
        tables_scores = tables.scores
    text = "\n".join([*report, "", *(t.line() for t in targets)]) + "\n"
    print()
    print(text, end="")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "parse.md").write_text(text, encoding="utf-8")
    as_json = {**_as_json(results, targets), "tables_corpus": tables_scores}
    (OUT / "parse.json").write_text(json.dumps(as_json, indent=1), encoding="utf-8")
    print(f"\nwritten to {(OUT / 'parse.md').relative_to(ROOT)} in {time.perf_counter() - started:.0f} s total")
    return 1 if args.strict and not all(t.met for t in targets) else 0


@dataclass(frozen=True)
class TablesResult:
    report: list[str]
    targets: list[Target]
    scores: dict[str, dict[str, float]]


def _tables_corpus(parsers: list[str], repeat: int) -> TablesResult:
    """The real-world tables corpus (../shared/corpus/tables), scored by its own score.py: one line per
    parser, with pages/s over the corpus's pages (median of ``repeat`` runs per PDF)."""
    if not (TABLES / "score.py").is_file():
        return TablesResult([f"tables corpus: not found at {TABLES}"], [], {})
    score = load_score()
    cases = json.loads((TABLES / "truth.json").read_text(encoding="utf-8"))
    files = [TABLES / f for f in dict.fromkeys(c["file"] for c in cases)]
    pages = sum(len(pdfium.PdfDocument(f)) for f in files)
    lines = [
        f"### tables corpus: {len(cases)} real tables ({sum(c['kind'] == 'ruled' for c in cases)} ruled) on "
        f"{len(files)} PDFs, {pages} pages; scored by its score.py; median of {repeat} runs",
        "",
    ]
    scores: dict[str, dict[str, float]] = {}
    for name in parsers:
        out = OUT / "parse" / "tables" / name
        command = [sys.executable, "-m", "bench.parse.worker", name, str(out), *map(str, files)]
        command += ["--repeat", str(repeat), "--paged", "--warmup", str(files[0])]
        try:
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            lines.append(f"tables: {name} timed out after {WORKER_TIMEOUT_S} s")
            continue
        result_file = out / "result.json"
        result = json.loads(result_file.read_text()) if result_file.exists() else {"error": done.stderr[-300:]}
        if "error" in result:
            lines.append(f"tables: {name} failed: {result['error']}")
            continue
        seconds = sum(float(d.get("seconds", 0.0)) for d in result["documents"])
        figures = _score_tables(score, cases, out)
        figures["pages_per_second"] = pages / seconds if seconds else 0.0
        scores[name] = figures
        lines.append(
            f"tables: {name:<12} cases={len(cases)} found={figures['found']:.0f} "
            f"cell_recall={figures['cell_recall']:.3f} row_integrity={figures['row_integrity']:.3f} "
            f"ruled_cell_recall={figures['ruled_cell_recall']:.3f} "
            f"unruled_cell_recall={figures['unruled_cell_recall']:.3f} pages/s={figures['pages_per_second']:.1f}"
        )
    return TablesResult(lines, _tables_targets(scores), scores)


def load_score() -> ModuleType:
    """The corpus's scorer, imported from beside the repository rather than copied into it."""
    spec = importlib.util.spec_from_file_location("tables_corpus_score", TABLES / "score.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _score_tables(score: ModuleType, cases: list[dict[str, Any]], out: Path) -> dict[str, float]:
    """score.py's figures, computed as its main() does from each PDF's saved output."""
    rows = []
    for case in cases:
        saved = out / f"{Path(case['file']).stem}.json"
        best = None
        if saved.exists():
            markdown, _ = score.page_slice(json.loads(saved.read_text(encoding="utf-8")), int(case["page"]))
            for table in score.extract_tables(markdown):
                scored = score.score_table(case["rows"], table)
                if best is None or (scored[0], scored[2]) > (best[0], best[2]):
                    best = scored
        if best is None:
            truth_rows = [[x for x in row if x.strip()] for row in case["rows"]]
            best = (0, sum(len(r) for r in truth_rows), 0, sum(1 for r in truth_rows if r))
        found, total, rows_ok, nrows = best
        rows.append((case["kind"], found / total if total else 0.0, rows_ok / nrows if nrows else 0.0))

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    return {
        "found": float(sum(1 for _, recall, _ in rows if recall >= score.FOUND_MIN)),
        "cell_recall": mean([r for _, r, _ in rows]),
        "row_integrity": mean([i for _, _, i in rows]),
        "ruled_cell_recall": mean([r for kind, r, _ in rows if kind == "ruled"]),
        "unruled_cell_recall": mean([r for kind, r, _ in rows if kind == "unruled"]),
    }


def _tables_targets(scores: dict[str, dict[str, float]]) -> list[Target]:
    ours = scores.get(OURS)
    if ours is None:
        return [Target("tables corpus: docintake did not run", False)]
    targets = [
        Target(f"tables corpus: docintake {label} {ours[key]:.3f} (target ≥ {floor})", ours[key] >= floor)
        for key, label, floor in (
            ("cell_recall", "cell recall", 0.9),
            ("ruled_cell_recall", "ruled cell recall", 0.95),
            ("unruled_cell_recall", "unruled cell recall", 0.8),
            ("row_integrity", "row integrity", 0.85),
        )
    ]
    for peer in ("pdfplumber", "pymupdf4llm"):
        theirs = scores.get(peer)
        if theirs is not None:
            ahead = ours["cell_recall"] > theirs["cell_recall"] and ours["row_integrity"] > theirs["row_integrity"]
            targets.append(
                Target(
                    f"tables corpus: docintake {ours['cell_recall']:.3f}/{ours['row_integrity']:.3f} vs {peer} "
                    f"{theirs['cell_recall']:.3f}/{theirs['row_integrity']:.3f} (cell recall/row integrity, target >)",
                    ahead,
                )
            )
    return targets


def _write_inputs(folder: Path, docs: list[TruthDocument]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{doc.name}.pdf" for doc in docs]
    for path, doc in zip(paths, docs, strict=True):
        path.write_bytes(doc.data)
    return paths


def _run_worker(name: str, out: Path, paths: list[Path], suite: Suite, warmup: Path) -> Run:
    pages, docs = suite.pages, suite.docs
    command = [sys.executable, "-m", "bench.parse.worker", name, str(out), *map(str, paths)]
    command += ["--repeat", str(suite.repeat), "--warmup", str(warmup)]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return Run(name, pages, 0.0, 0.0, None, error=f"timed out after {WORKER_TIMEOUT_S} s")
    result_file = out / "result.json"
    if done.returncode != 0 or not result_file.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return Run(name, pages, 0.0, 0.0, None, error=f"worker failed: {tail[0]}")
    result = json.loads(result_file.read_text())
    if "error" in result:
        return Run(name, pages, 0.0, 0.0, None, error=str(result["error"]))
    failed = [d for d in result["documents"] if "error" in d]
    if failed:
        return Run(
            name, pages, 0.0, float(result["peak_rss_mb"]), None, error=f"{failed[0]['name']}: {failed[0]['error']}"
        )
    scores = combine(score((out / f"{doc.name}.md").read_text(encoding="utf-8"), doc) for doc in docs)
    seconds = sum(float(d["seconds"]) for d in result["documents"])
    return Run(name, pages, seconds, float(result["peak_rss_mb"]), scores)


def _report(results: dict[str, dict[str, Run]], suites: list[Suite], parsers: list[str]) -> list[str]:
    lines: list[str] = []
    for suite in suites:
        runs = f"median of {suite.repeat} runs" if suite.repeat > 1 else "one run"
        size = sum(len(doc.data) for doc in suite.docs) / 1e6
        lines += [
            f"### {suite.title}: {len(suite.docs)} PDF(s), {suite.pages} pages, {size:.1f} MB; {runs} after a warm-up",
            "",
            "| parser | pages/s | time s | peak RSS MB | heading P | heading R | table-cell acc | text sim |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name in parsers:
            run = results[suite.title][name]
            if run.scores is None:
                lines.append(f"| {name} | – | – | – | – | – | – | – |  {run.error}")
                continue
            s = run.scores
            lines.append(
                f"| {name} | {run.pages_per_second:,.1f} | {run.seconds:.2f} | {run.peak_rss_mb:.0f} | "
                f"{s.heading_precision:.3f} | {s.heading_recall:.3f} | {s.table_cell_accuracy:.3f} | "
                f"{s.text_similarity:.4f} |"
            )
        lines.append("")
    lines.append(
        "pypdf and pdfplumber return plain text: no Markdown headings or tables, so those scores are 0 by definition. "
        "Peak RSS includes the interpreter and the parser's imports."
    )
    return lines


def _targets(results: dict[str, dict[str, Run]], suites: list[Suite]) -> list[Target]:
    targets: list[Target] = []
    for suite in suites:
        runs, short = results[suite.title], suite.title
        ours = runs.get(OURS)
        if ours is None or ours.scores is None:
            targets.append(Target(f"{short}: docintake did not run ({ours.error if ours else 'not selected'})", False))
            continue
        for peer, factor in (("pymupdf4llm", 1.0), ("pdfplumber", 10.0)):
            other = runs.get(peer)
            if other is None or other.scores is None or not other.pages_per_second:
                continue
            ratio = ours.pages_per_second / other.pages_per_second
            targets.append(
                Target(f"{short}: docintake / {peer} speed: {ratio:.1f}× (target ≥ {factor:g}×)", ratio >= factor)
            )
        peer_run = runs.get("pymupdf4llm")
        if peer_run is not None and peer_run.scores is not None:
            mine, theirs = ours.scores, peer_run.scores
            targets.append(
                Target(
                    f"{short}: heading F1 docintake {mine.heading_f1:.3f} vs pymupdf4llm {theirs.heading_f1:.3f} "
                    "(target ≥)",
                    mine.heading_f1 >= theirs.heading_f1,
                )
            )
            targets.append(
                Target(
                    f"{short}: table-cell accuracy docintake {mine.table_cell_accuracy:.3f} vs pymupdf4llm "
                    f"{theirs.table_cell_accuracy:.3f} (target ≥)",
                    mine.table_cell_accuracy >= theirs.table_cell_accuracy,
                )
            )
        if suite.large:
            targets.append(
                Target(
                    f"{short}: {ours.seconds:.1f} s, {ours.peak_rss_mb:.0f} MB peak (target < 30 s, < 512 MB)",
                    ours.seconds < 30 and ours.peak_rss_mb < 512,
                )
            )
    return targets


def _as_json(results: dict[str, dict[str, Run]], targets: list[Target]) -> dict[str, object]:
    def run_json(run: Run) -> dict[str, object]:
        s = run.scores
        return {
            "pages": run.pages,
            "seconds": run.seconds,
            "pages_per_second": run.pages_per_second,
            "peak_rss_mb": run.peak_rss_mb,
            "error": run.error,
            "scores": None
            if s is None
            else {
                "heading_precision": s.heading_precision,
                "heading_recall": s.heading_recall,
                "heading_level_accuracy": s.heading_level_accuracy,
                "table_cell_accuracy": s.table_cell_accuracy,
                "text_similarity": s.text_similarity,
                "list_item_recall": s.list_item_recall,
            },
        }

    return {
        "suites": {suite: {name: run_json(run) for name, run in runs.items()} for suite, runs in results.items()},
        "targets": [{"text": t.text, "met": t.met} for t in targets],
    }


if __name__ == "__main__":
    sys.exit(main())
