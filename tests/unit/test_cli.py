"""`docintake parse` and `docintake chunk`: what they print, and their exit codes."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path

import pytest

from docintake_cli.main import main
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
