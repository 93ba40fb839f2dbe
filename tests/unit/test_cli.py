"""`docintake parse`, `docintake chunk` and `docintake fields`: what they print, and their exit codes."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path

import pytest

from docintake.fields import Coverage, DocumentFields, Evidence, FieldName, FieldValue, InsuranceDocumentType, Money
from docintake_cli.main import main
from docintake_cli.search import field_filter
from docintake_local.sample_documents import sample_documents


def test_parse_json_describes_the_markdown_and_its_pages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sample = sample_documents(2)[1]
    path = tmp_path / sample.filename
    path.write_bytes(sample.data)
    assert main(["parse", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"markdown", "page_count", "pages", "warnings", "parser", "ocr_pages", "page_confidence"}
    assert document["ocr_pages"] == [] and document["page_confidence"] == []
    assert document["page_count"] == sample.pages and document["parser"] == "local"
    pages = document["pages"]
    assert [p["page"] for p in pages] == list(range(1, sample.pages + 1))
    assert pages[0]["start"] == 0 and pages[-1]["end"] == len(document["markdown"])
    assert all(a["end"] == b["start"] for a, b in itertools.pairwise(pages))
    assert "| Coverage | Limit | Deductible | Premium |" in document["markdown"]


def test_parse_prints_markdown_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "note.md"
    path.write_text("# CLAIM FORM\n\nDate of loss: 03/04/2026\n")
    assert main(["parse", str(path)]) == 0
    assert capsys.readouterr().out == "# CLAIM FORM\n\nDate of loss: 03/04/2026\n"


def test_a_text_file_named_pdf_fails_with_a_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "policy.pdf"
    path.write_text("this is not a PDF")
    assert main(["parse", str(path), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == "corrupt_pdf" and captured.out == ""


def test_parse_json_piped_into_chunk_json_keeps_the_pages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN `docintake parse FILE --json` of a multi-page policy
    sample = sample_documents(1)[0]
    path = tmp_path / sample.filename
    path.write_bytes(sample.data)
    assert main(["parse", str(path), "--json"]) == 0
    parsed = capsys.readouterr().out
    # WHEN it is piped into `docintake chunk - --json`
    monkeypatch.setattr("sys.stdin", io.StringIO(parsed))
    assert main(["chunk", "-", "--json", "--size", "800", "--overlap", "100"]) == 0
    chunks = json.loads(capsys.readouterr().out)
    # THEN the chunks carry the documented fields, their page spans cover the document, and none is over 800
    assert set(chunks[0]) == {"ordinal", "content", "heading_path", "sections", "page_start", "page_end", "chars"}
    # each chunk's sections start with its heading path (their common prefix)
    assert all(s[: len(c["heading_path"])] == c["heading_path"] for c in chunks for s in c["sections"])
    assert [c["ordinal"] for c in chunks] == list(range(len(chunks)))
    assert chunks[0]["page_start"] == 1 and chunks[-1]["page_end"] == sample.pages
    assert all(c["chars"] == len(c["content"]) <= 800 for c in chunks)
    assert any("DECLARATIONS" in " ".join(c["heading_path"]) for c in chunks)


def test_chunk_refuses_an_overlap_not_smaller_than_the_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.md"
    path.write_text("text")
    assert main(["chunk", str(path), "--size", "100", "--overlap", "100"]) == 2
    assert "--overlap must be smaller" in capsys.readouterr().err


def test_fields_json_is_the_documents_fields_as_the_pipeline_extracts_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a demo PDF (the health plan's summary of benefits) on disk
    [sample] = [s for s in sample_documents(4) if "benefits" in s.filename]
    path = tmp_path / sample.filename
    path.write_bytes(sample.data)
    # WHEN `docintake fields FILE --json` runs
    assert main(["fields", str(path), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    # THEN one JSON object in DocumentFields' shape, of a known type, each evidence's quote where it says
    found = DocumentFields.model_validate(printed)
    assert set(printed) == set(DocumentFields.model_fields)
    assert printed["document_type"] in {t.value for t in InsuranceDocumentType}
    assert main(["parse", str(path), "--json"]) == 0
    markdown = json.loads(capsys.readouterr().out)["markdown"]
    for evidence in [*found.evidence.values(), *(c.evidence for c in found.coverages if c.evidence)]:
        assert markdown[evidence.start : evidence.end] == evidence.quote
        assert evidence.chunk_id is None  # no document, so no chunk ids offline


def test_fields_prints_the_type_the_values_and_the_coverages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN rules that find a premium and a coverage in a declarations page
    path = tmp_path / "declarations.md"
    path.write_text("# DECLARATIONS\n\nTotal premium: $1,284.00\n")

    def rules(markdown: str, page_map: object) -> DocumentFields:
        start = markdown.index("$1,284.00")
        return DocumentFields(
            document_type=InsuranceDocumentType.HOMEOWNERS,
            document_type_confidence=0.875,
            fields={FieldName.PREMIUM: FieldValue(value="1284.00", text="$1,284.00", currency="USD", confidence=0.9)},
            evidence={FieldName.PREMIUM: Evidence(page=1, start=start, end=start + 9, quote="$1,284.00")},
            coverages=[Coverage(name="A. Dwelling", limit=Money(value="350000.00", text="$350,000"), page=1)],
            notes=["llm_disagrees:premium"],
        )

    monkeypatch.setattr("docintake.fields.rules.extract_with_rules", rules)
    # WHEN `docintake fields FILE` runs without --json
    assert main(["fields", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # THEN the type with its confidence, a table of fields (value, as written, page), one of coverages
    assert lines[0] == "type: homeowners (confidence 0.88)"
    assert lines[2].split() == ["field", "value", "as", "written", "page"]
    assert lines[4].split() == ["premium", "1284.00", "USD", "$1,284.00", "1"]
    assert lines[6].split() == ["coverage", "limit", "deductible", "premium", "page"]
    assert lines[8].split() == ["A.", "Dwelling", "$350,000", "-", "-", "1"]
    assert lines[-1] == "notes: llm_disagrees:premium"


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [("policy.pdf", b"this is not a PDF", "corrupt_pdf"), ("missing.pdf", None, "cannot read")],
)
def test_fields_of_a_bad_or_missing_file_fails_with_a_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes | None, error: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    assert main(["fields", str(path), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(error) and captured.out == ""


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("deductible<=1000", {"field": "deductible", "op": "lte", "value": "1000"}),
        ("document_type = homeowners", {"field": "document_type", "op": "eq", "value": "homeowners"}),
        ("effective_date>=2026-01-01", {"field": "effective_date", "op": "gte", "value": "2026-01-01"}),
        ("premium>1,000", {"field": "premium", "op": "gt", "value": "1,000"}),
        ("insurer==Acme Mutual", {"field": "insurer", "op": "eq", "value": "Acme Mutual"}),
    ],
)
def test_search_where_reads_a_field_an_operator_and_a_value(text: str, parsed: dict[str, str]) -> None:
    assert field_filter(text) == parsed


@pytest.mark.parametrize("text", ["deductible", "deductible~1000", "<=1000", "deductible<="])
def test_search_where_refuses_what_is_not_a_comparison(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["search", "q", "--user", "11111111-1111-4111-8111-111111111111", "--where", text])
    assert exited.value.code == 2
    assert "FIELD<OP>VALUE" in capsys.readouterr().err


def _commands() -> list[list[str]]:
    """Every command and subcommand of `docintake`, from the parser itself."""
    import argparse

    from docintake_cli import main as cli

    captured: dict[str, argparse.ArgumentParser] = {}
    real = argparse.ArgumentParser.parse_args

    def capture(self: argparse.ArgumentParser, *args: object, **kwargs: object) -> object:
        captured.setdefault("root", self)
        raise SystemExit(0)

    argparse.ArgumentParser.parse_args = capture  # type: ignore[method-assign,assignment]
    try:
        with pytest.raises(SystemExit):
            cli.main([])
    finally:
        argparse.ArgumentParser.parse_args = real  # type: ignore[method-assign]

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> list[list[str]]:
        found = [prefix] if prefix else []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found += walk(sub, [*prefix, name])
        return found

    return walk(captured["root"], [])


COMMANDS = _commands()


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("usage: docintake " + " ".join(command))


def test_commands_that_report_data_offer_json() -> None:
    leaves = {" ".join(c) for c in COMMANDS if not any(other[: len(c)] == c and other != c for other in COMMANDS)}
    without_json = set()
    for leaf in leaves:
        import contextlib

        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
            main([*leaf.split(), "--help"])
        if "--json" not in out.getvalue():
            without_json.add(leaf)
    # These run a service or a demo, or print JSON whatever the flags (invoke).
    assert without_json == {"db migrate", "local up", "invoke", "demo"}


@pytest.mark.parametrize("value", ["-1", "604801", "soon"])
def test_sweep_refuses_a_staleness_outside_zero_to_a_week(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["sweep", "--stale-seconds", value])
    assert exited.value.code == 2
    assert "--stale-seconds" in capsys.readouterr().err
