"""MSISDN normalization, as the Sinch formats section describes it.

International format only. A leading ``+`` or ``00`` is dropped; spaces,
dashes, dots and brackets are ignored; what is left must be 7 to 15 digits
and must not start with 0 (a national number, which no provider can route).
The result is digits only, the form every provider echoes back.
"""

from __future__ import annotations

import re

from bulksend.errors import RecipientError

MIN_DIGITS = 7
MAX_DIGITS = 15

# Characters a person puts into a number for readability.
_IGNORED = str.maketrans("", "", " \t-.()[]\u00a0/")


def normalize_msisdn(raw: str) -> str:
    """Return the digits-only form of ``raw`` or raise ``RecipientError``."""
    # Fast paths: most lists hold clean digits, with or without a "+".
    # This runs once per recipient, so the common forms cost a few C calls.
    if raw.isdigit() and raw.isascii():
        if raw[0] != "0" and MIN_DIGITS <= len(raw) <= MAX_DIGITS:
            return raw
        digits = raw[2:] if raw.startswith("00") else raw
    elif raw[:1] == "+" and raw[1:].isdigit() and raw.isascii():
        digits = raw[1:]
        if digits[0] != "0" and MIN_DIGITS <= len(digits) <= MAX_DIGITS:
            return digits
    else:
        digits = _strip_prefix(raw.strip().translate(_IGNORED), raw)
    return _check_digits(digits, raw)


# A block of clean numbers (digits, or "+" and digits), one per line.
_CLEAN_BLOCK = re.compile(r"\+?[1-9][0-9]{6,14}(?:\n\+?[1-9][0-9]{6,14})*")


def normalize_block(raws: list[str]) -> list[str] | None:
    """Every number of ``raws`` normalized, in one pass of C code, or None.

    None means some number needs the careful path (``normalize_msisdn``,
    one at a time). Most lists are clean, and then a campaign's hottest loop
    does no per-number Python work at all.
    """
    if not raws:
        return []
    joined = "\n".join(raws)
    if _CLEAN_BLOCK.fullmatch(joined) is None:
        return None
    digits = joined.replace("+", "").split("\n") if "+" in joined else list(raws)
    # A value holding a newline would shift every number after it.
    return digits if len(digits) == len(raws) else None


def _strip_prefix(cleaned: str, raw: str) -> str:
    if cleaned.startswith("+"):
        return cleaned[1:]
    if cleaned.startswith("00"):
        return cleaned[2:]
    if not cleaned:
        raise RecipientError("empty number", raw)
    return cleaned


def _check_digits(digits: str, raw: str) -> str:
    if not (digits.isdigit() and digits.isascii()):
        raise RecipientError("not a phone number", raw)
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        raise RecipientError(f"must have {MIN_DIGITS} to {MAX_DIGITS} digits", raw)
    if digits[0] == "0":
        raise RecipientError("national format (leading 0); use the country code", raw)
    return digits
