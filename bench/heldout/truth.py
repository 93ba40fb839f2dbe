"""The held-out tables' truth, in the corpus's truth.json format, built from the expectations two MIT-licensed
registry packages ship with their own tests:

- npm ``pdf-data-parser`` 1.2.22 (Drew O. Letcher): ``test/data/pdf/*.pdf`` and the row arrays its parser is
  expected to return, ``test/expected/PdfDataParser/*.json`` (US state and federal documents);
- PyPI ``tabula-py`` 2.10.0 sdist (Michiaki Ariga): ``tests/resources/*.pdf`` and the CSVs its tests expect.

Nothing here was tuned on: the truth is what those packages' authors expected, with the few choices below
(each commented where it is made). ``tabula-py``'s ``12s0324.pdf`` is not used: it is already in the tables
corpus (../shared/corpus/tables), so it would not be held out.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_WS = re.compile(r"\s+")

PDP_SOURCE = "npm pdf-data-parser 1.2.22 test/expected/PdfDataParser/{}.json"
TABULA_SOURCE = "PyPI tabula-py 2.10.0 sdist tests/resources/{}"

# Where each PDF comes from: (package, path inside it) -> the name it gets in pdf/. tabula's data.pdf is renamed
# because "data" says nothing beside the other files.
PDP_PDFS = (
    "ClassCodes.pdf",
    "CoJul22.pdf",
    "CongJul22.pdf",
    "state_voter_registration_jan2024.pdf",
    "2024presgeresults.pdf",
    "Nat_State_Topic_File_formats.pdf",
    "2023-Registered-Voter-Count.pdf",
)
TABULA_PDFS = {
    "data.pdf": "tabula_data.pdf",
    "MultiColumn.pdf": "MultiColumn.pdf",
    "campaign_donors.pdf": "campaign_donors.pdf",
    "data_dtype.pdf": "data_dtype.pdf",
}

Row = list[str]


@dataclass
class Truth:
    cases: list[dict[str, Any]] = field(default_factory=list)
    report: list[str] = field(default_factory=list)  # per pdf-data-parser file: rows assigned and dropped


def copy_pdfs(pdp_package: Path, tabula_sdist: Path, pdf_dir: Path) -> None:
    """The PDFs the truth refers to, copied out of the unpacked packages into ``pdf_dir``."""
    pdf_dir.mkdir(parents=True, exist_ok=True)
    for name in PDP_PDFS:
        shutil.copyfile(pdp_package / "test" / "data" / "pdf" / name, pdf_dir / name)
    for name, target in TABULA_PDFS.items():
        shutil.copyfile(tabula_sdist / "tests" / "resources" / name, pdf_dir / target)


def build_truth(pdp_package: Path, tabula_sdist: Path, pdf_dir: Path) -> Truth:
    """Every case, from the unpacked npm package (``package/``), the unpacked sdist (``tabula_py-2.10.0/``) and
    the copied PDFs. Case files are ``pdf/<name>``, relative to where truth.json is written."""
    expected = pdp_package / "test" / "expected" / "PdfDataParser"
    resources = tabula_sdist / "tests" / "resources"
    truth = Truth()

    def pdp(name: str) -> list[Row]:
        return _clean_rows(json.loads((expected / f"{name}.json").read_text(encoding="utf-8")))

    def add(
        case: str, pdf: str, rows: list[Row], kind: str, source: str, *, start_page: int = 0, **options: str
    ) -> None:
        _add_by_page(truth, pdf_dir, case, pdf, rows, kind, PDP_SOURCE.format(source), start_page, **options)

    add("ClassCodes", "ClassCodes.pdf", pdp("ClassCodes"), "ruled", "ClassCodes")
    add(
        "CoJul22",
        "CoJul22.pdf",
        pdp("CoJul22"),
        "ruled",
        "CoJul22",
        notes="repeatingHeaders: header row appears in truth on page 1 only",
    )
    add(
        "CongJul22",
        "CongJul22.pdf",
        pdp("CongJul22"),
        "ruled",
        "CongJul22",
        split_on="US Representative District",
        notes="one table per district; the header row appears in the truth only in district 1",
    )
    # pdf-data-parser's test reads pages 3-5 only, so the search for each row's page starts on page 3.
    add(
        "state_voter_reg",
        "state_voter_registration_jan2024.pdf",
        pdp("state_voter_registration_jan2024"),
        "unruled",
        "state_voter_registration_jan2024",
        start_page=2,
        notes="pdf-data-parser run on pages 3-5 with pageHeader=64, repeatingHeaders: header row only on page 3",
    )
    add(
        "pres2024",
        "2024presgeresults.pdf",
        pdp("2024presgeresults"),
        "ruled",
        "2024presgeresults",
        notes="page 1 only",
    )
    add(
        "NatStateFormats",
        "Nat_State_Topic_File_formats.pdf",
        pdp("Nat_State_Topic_File_formats"),
        "ruled",
        "Nat_State_Topic_File_formats",
        start_page=5,
        notes="the table under heading 'Government Units File Format'",
    )
    # The test reads this file with cells='3-3', which garbles its two header rows (their first cells read
    # "County" and "Voters"): those two rows are dropped, the County + April columns kept.
    voters = [row for row in pdp("2023-Registered-Voter-Count_data") if row and row[0] not in ("County", "Voters")]
    add(
        "regvoters2023",
        "2023-Registered-Voter-Count.pdf",
        voters,
        "ruled",
        "2023-Registered-Voter-Count_data",
        notes="pdf-data-parser cells='3-3': only County + April columns; its two garbled header rows dropped",
    )

    def tabula_csv(name: str) -> list[Row]:
        with (resources / name).open(newline="", encoding="utf-8") as f:
            return [[_norm(cell) for cell in row] for row in csv.reader(f)]

    # tabula's data.pdf: page 1 only (mtcars, data_1.csv). Its pages 2-3 are left out: their expectation,
    # data_2-3.csv, is tabula's stream reading of two iris tables and a ToothGrowth table run together in one
    # CSV, with columns merged into one cell ("5.1,3.5,1.4,0.2 setosa"), row numbers glued to cells and the
    # page numbers as rows: not the tables as printed.
    truth.cases.append(
        {
            "id": "tabula_mtcars",
            "file": "pdf/tabula_data.pdf",
            "page": 1,
            "kind": "ruled",
            "source": TABULA_SOURCE.format("data_1.csv (test_read_pdf)"),
            "rows": tabula_csv("data_1.csv"),
        }
    )
    truth.cases.append(
        {
            "id": "tabula_multicolumn",
            "file": "pdf/MultiColumn.pdf",
            "page": 1,
            "kind": "unruled",
            "source": TABULA_SOURCE.format("MultiColumn.csv (test_read_pdf_with_multiple_areas)"),
            "notes": "one 3-column table set in two side-by-side blocks; truth lists rows 1-44 as tabula reads "
            "the two areas",
            "rows": tabula_csv("MultiColumn.csv"),
        }
    )
    # The CSV's first column is pandas' empty index and its last row the page footer ("Página ..."): both
    # dropped. tabula's test cuts columns at fixed x positions; the cut at x=147 splits one surname that runs
    # past it ("VALSANGIACOMO BLANC" + "OFERNANDO JORGE"): that row is restored to the printed text.
    donors = [row[1:] for row in tabula_csv("campaign_donors.csv") if not any("Págin" in cell for cell in row)]
    for row in donors:
        if row[0] == "VALSANGIACOMO BLANC":
            row[0], row[1] = "VALSANGIACOMO BLANCO", "FERNANDO JORGE"
    truth.cases.append(
        {
            "id": "tabula_campaign_donors",
            "file": "pdf/campaign_donors.pdf",
            "page": 1,
            "kind": "unruled",
            "source": TABULA_SOURCE.format("campaign_donors.csv (test_read_pdf_with_columns)"),
            "notes": "empty first column and the page-footer row dropped; one name split by tabula's fixed "
            "column restored",
            "rows": donors,
        }
    )
    truth.cases.append(
        {
            "id": "tabula_dtype_items",
            "file": "pdf/data_dtype.pdf",
            "page": 1,
            "kind": "unruled",
            "source": TABULA_SOURCE.format("data_dtype_template_expected.csv (test_read_pdf_with_dtype_string)"),
            "notes": "'Itens de fatura' block of an electricity bill, without its header row",
            "rows": tabula_csv("data_dtype_template_expected.csv"),
        }
    )
    return truth


def _norm(text: str | None) -> str:
    return _WS.sub(" ", text or "").strip()


def _key(text: str | None) -> str:
    """Text compared without any whitespace: PyMuPDF's page text breaks lines where the cells do not."""
    return _WS.sub("", unicodedata.normalize("NFKC", text or ""))


def _clean_rows(rows: list[list[str | None]]) -> list[Row]:
    return [[_norm(cell) for cell in row] for row in rows]


def _page_texts(pdf: Path) -> list[str]:
    import pymupdf  # AGPL: benchmark tooling only, never imported by docintake

    with pymupdf.open(pdf) as doc:
        return [_key(page.get_text()) for page in doc]


def _share_on_page(row: Row, text: str) -> float:
    cells = [_key(cell) for cell in row if _key(cell)]
    return sum(cell in text for cell in cells) / len(cells) if cells else 0.0


def _assign_pages(rows: list[Row], texts: list[str], start: int) -> tuple[list[tuple[int, Row]], list[Row]]:
    """pdf-data-parser returns one array for a whole document, so each row is given the page that holds its
    cells: the current page or the next (pages only move forwards), the first where every cell is found,
    else the one holding the larger share if at least half. A row found on neither is dropped (and counted
    in the report; none is today). Returns (1-based page, row) pairs and the dropped rows."""
    assigned: list[tuple[int, Row]] = []
    dropped: list[Row] = []
    page = start
    for row in rows:
        best: int | None = None
        for candidate in range(page, min(page + 2, len(texts))):
            share = _share_on_page(row, texts[candidate])
            if share == 1:
                best = candidate
                break
            if share >= 0.5 and (best is None or share > _share_on_page(row, texts[best])):
                best = candidate
        if best is None:
            dropped.append(row)
            continue
        page = best
        assigned.append((page + 1, row))
    return assigned, dropped


def _add_by_page(
    truth: Truth,
    pdf_dir: Path,
    name: str,
    pdf: str,
    rows: list[Row],
    kind: str,
    source: str,
    start_page: int,
    split_on: str | None = None,
    notes: str | None = None,
) -> None:
    """One case per table per page (score.py matches a truth table against the tables on its page). A
    single-cell row starting with ``split_on`` opens a new table (CongJul22: one table per district)."""
    assigned, dropped = _assign_pages(rows, _page_texts(pdf_dir / pdf), start_page)
    groups: list[tuple[int, list[Row]]] = []
    for page, row in assigned:
        opens_table = bool(split_on) and len(row) == 1 and row[0].startswith(split_on or "")
        if not groups or groups[-1][0] != page or opens_table:
            groups.append((page, []))
        groups[-1][1].append(row)
    per_page: dict[int, list[list[Row]]] = {}
    for page, table in groups:
        per_page.setdefault(page, []).append(table)
    for page, tables in per_page.items():
        for k, table in enumerate(tables, start=1):
            case: dict[str, Any] = {
                "id": f"{name}-p{page}" + (f"-t{k}" if len(tables) > 1 else ""),
                "file": f"pdf/{pdf}",
                "page": page,
                "kind": kind,
                "source": source,
                "rows": table,
            }
            if notes:
                case["notes"] = notes
            truth.cases.append(case)
    truth.report.append(
        f"{name}: {len(rows)} rows, {len(assigned)} assigned to pages, {len(dropped)} dropped"
        + (f" (first cells: {[row[:2] for row in dropped][:5]})" if dropped else "")
    )
