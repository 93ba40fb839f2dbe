"""Issue 16's smaller defects that need no database: the operator commands' numeric options are checked
by argparse (a usage error, exit code 2, before anything is touched), and a token's subject and an upload's
size are taken only in their exact form."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from docintake.api import ApiError, user_id_from_claims
from docintake.api.uploads import UploadRequest
from docintake_cli import main as cli


def _refuse_to_run(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a bad option must be refused before the command runs")


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["jobs", "list", "--limit", "-1"], "argument --limit: must be from 1 to 10000, not -1"),
        (["jobs", "list", "--limit", "0"], "argument --limit: must be from 1 to 10000, not 0"),
        (["jobs", "list", "--limit", "99999999999999999999"], "must be from 1 to 10000"),
        (["jobs", "list", "--limit", "ten"], "argument --limit: 'ten' is not an integer"),
        (["dlq", "replay", "--queue", "parse", "--limit", "-5"], "argument --limit: must be from 1 to 1000000, not -5"),
        (["dlq", "replay", "--queue", "parse", "--limit", "1.5"], "argument --limit: '1.5' is not an integer"),
    ],
)
def test_operator_limits_out_of_range_are_usage_errors(
    argv: list[str], complaint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the operator commands, which would open the stack and the database
    import docintake_cli.operators as operator_commands

    for command in ("_jobs_list", "_dlq_replay"):
        monkeypatch.setattr(operator_commands, command, _refuse_to_run)
    # WHEN a limit is out of range or not an integer
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    # THEN argparse says which option and why, with exit code 2, and nothing ran
    assert exited.value.code == 2
    assert complaint in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "limit"), [(["jobs", "list", "--limit", "1"], 1), (["jobs", "list"], 50)])
def test_operator_limits_in_range_reach_the_command(
    argv: list[str], limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docintake_cli.operators as operator_commands

    seen: list[int] = []
    monkeypatch.setattr(operator_commands, "_jobs_list", lambda args: seen.append(args.limit) or 0)
    assert cli.main(argv) == 0
    assert seen == [limit]


@pytest.mark.parametrize("claims", [{}, {"sub": ""}, {"sub": "   "}, {"sub": "\u3000\t"}, {"sub": 7}, {"sub": None}])
def test_a_subject_that_is_missing_blank_or_not_a_string_names_nobody(claims: dict[str, Any]) -> None:
    with pytest.raises(ApiError) as refused:
        user_id_from_claims({"iss": "https://issuer.example", **claims})
    assert (refused.value.status, refused.value.code) == (401, "unauthenticated")


def test_a_subject_is_mapped_as_it_is() -> None:
    # A subject with spaces around it is another subject, not the trimmed one: identities are exact.
    mapped = user_id_from_claims({"iss": "i", "sub": "abc"})
    assert mapped == user_id_from_claims({"iss": "i", "sub": "abc"})
    assert mapped != user_id_from_claims({"iss": "i", "sub": " abc"})


@pytest.mark.parametrize("size", ['"123"', "123.0", "true"])
def test_size_bytes_must_be_a_json_integer(size: str) -> None:
    body = f'{{"filename": "a.pdf", "content_type": "application/pdf", "size_bytes": {size}, "sha256": "{"0" * 64}"}}'
    with pytest.raises(ValidationError) as refused:
        UploadRequest.model_validate_json(body)
    assert [error["loc"] for error in refused.value.errors()] == [("size_bytes",)]
    assert UploadRequest.model_validate_json(body.replace(size, "123")).size_bytes == 123
