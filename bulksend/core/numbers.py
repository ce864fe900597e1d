"""MSISDN normalization, as the Sinch formats section describes it.

International format only. A leading ``+`` or ``00`` is dropped; spaces,
dashes, dots and brackets are ignored; what is left must be 7 to 15 digits
and must not start with 0 (a national number, which no provider can route).
The result is digits only, the form every provider echoes back.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

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


#: a clean block: its numbers "\n"-joined, as int64 keys, and where each starts
#: in the text (one more entry: the text's length plus one)
CleanBlock = tuple[str, npt.NDArray[np.int64], npt.NDArray[np.intp]]

_NL, _COMMA, _PLUS, _ZERO = 10, 44, 43, 48


def clean_block(data: bytes, first_field: bool = False) -> CleanBlock | None:
    """Whole lines of a list, each a clean number (or, with ``first_field``, one
    up to the line's first comma), normalized without a Python object per line.

    None when any line needs more than dropping a leading ``+``: the caller
    then takes the careful path for the block. This is the hot loop of a
    campaign on a clean list; numpy does it over the block's bytes.
    """
    a = np.frombuffer(data, dtype=np.uint8)
    if not len(a) or a[-1] != _NL:
        return None
    nl = np.flatnonzero(a == _NL)
    starts = np.empty(len(nl), dtype=np.intp)  # of each line
    starts[0] = 0
    starts[1:] = nl[:-1] + 1
    ends = nl  # of each number: the line's end, or its first comma
    if first_field:
        commas = np.flatnonzero(a == _COMMA)
        if len(commas):
            at = np.searchsorted(commas, starts)
            comma = commas[np.minimum(at, len(commas) - 1)]
            ends = np.where((at < len(commas)) & (comma < nl), comma, nl)
    plus = a[starts] == _PLUS  # a leading "+" is dropped; one anywhere else fails the check below
    first = starts + plus
    lengths = ends - first
    if ends is nl and not plus.any():
        nl_out = nl  # the block is the numbers as they are
    else:  # gather each number and one byte after it, which becomes the newline
        nl_out = np.cumsum(lengths + 1) - 1
        a = a[np.arange(int(nl_out[-1]) + 1) - np.repeat(nl_out - lengths - first, lengths + 1)]
        a[nl_out] = _NL
    if not ((a - np.uint8(_ZERO) < 10) | (a == _NL)).all():
        return None
    if lengths.min() < MIN_DIGITS or lengths.max() > MAX_DIGITS or (a[nl_out - lengths] == _ZERO).any():
        return None
    starts = np.empty(len(nl_out) + 1, dtype=np.intp)  # of each number in the text
    starts[0] = 0
    starts[1:] = nl_out + 1
    text = a[:-1].tobytes().decode("ascii")
    keys = np.fromstring(text, dtype=np.int64, sep="\n")  # type: ignore[call-overload]
    if len(keys) != len(nl_out):
        return None
    return text, keys, starts
