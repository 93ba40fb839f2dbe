"""Fixtures the policy-field tests share (test_document_fields, test_fields_backfill)."""

from __future__ import annotations

import pytest

from tests.integration.test_document_fields import FakeRules


@pytest.fixture
def fake_rules(monkeypatch: pytest.MonkeyPatch) -> FakeRules:
    """The rules replaced by FakeRules: known values at known places of FIELDS_POLICY."""
    fake = FakeRules()
    monkeypatch.setattr("docintake.fields.rules.extract_with_rules", fake)
    return fake
