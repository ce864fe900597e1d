"""Numbers the way a phone company reads them (issue 16, item 7): real numbers
of several countries, through the one rule in ``core.numbers``."""

from __future__ import annotations

import pytest

from bulksend.core.numbers import check_region, normalize_block, normalize_msisdn
from bulksend.errors import InputError, RecipientError


@pytest.mark.parametrize(("raw", "region", "digits"), [
    ("+49 (0)30 1234567", None, "49301234567"),        # Germany: the bracketed trunk 0 is dropped
    ("+49 (0) 30 1234567", None, "49301234567"),
    ("030 1234567", "DE", "49301234567"),             # national, with the default region
    ("0301234567", "DE", "49301234567"),
    ("+33 (0)1 23 45 67 89", None, "33123456789"),     # France
    ("01 23 45 67 89", "FR", "33123456789"),
    ("+44 20 7946 0958", None, "442079460958"),        # UK
    ("07700 900123", "GB", "447700900123"),
    ("+1 (212) 555-0123", None, "12125550123"),        # USA
    ("0046 70-123 45 67", None, "46701234567"),        # Sweden, 00 prefix
    ("46 70 123 45 67", None, "46701234567"),          # international without "+"
    ("+39 06 1234 5678", None, "390612345678"),        # Italy keeps its leading 0
    ("+61 4 1234 5678", None, "61412345678"),          # Australia
    ("+46701234567", None, "46701234567"),             # clean: the fast path, unchanged
    ("46701234567", "DE", "46701234567"),              # a region never changes an international number
])
def test_numbers_read_as_a_phone_company_reads_them(raw: str, region: str | None, digits: str) -> None:
    assert normalize_msisdn(raw, region) == digits


@pytest.mark.parametrize(("raw", "region", "reason"), [
    ("+1 555 0100", None, "too short for country 1"),
    ("+49 30 123456789012345", None, "too long for country 49"),
    ("+999 1234567", None, "unknown country code"),
    ("030 1234567", None, "national format"),
    ("1-800-FLOWERS", "US", "not a phone number"),
    ("+1 212 555 0123 ext 5", None, "not a phone number"),
    ("+44 20 79", None, "too short for country 44"),
])
def test_impossible_numbers_are_rejected_with_the_reason(raw: str, region: str | None, reason: str) -> None:
    with pytest.raises(RecipientError) as info:
        normalize_msisdn(raw, region)
    assert reason in info.value.reason
    assert info.value.value == raw


def test_a_messy_block_takes_the_careful_path() -> None:
    assert normalize_block(["46701234567", "+46701234568"]) == ["46701234567", "46701234568"]
    assert normalize_block(["46701234567", "+49 (0)30 1234567"]) is None


def test_regions_are_checked() -> None:
    assert check_region("de") == "DE" and check_region(None) is None
    with pytest.raises(InputError, match="not a region"):
        check_region("XX")
