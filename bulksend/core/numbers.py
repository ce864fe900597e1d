"""MSISDN normalization: the one rule for what a recipient's number is.

The result is the international number as digits only (E.164 without the
``+``), the form every provider echoes back. Two paths, one rule:

* **Clean numbers** (digits, or ``+`` and digits; 7 to 15 of them, not
  starting with 0) are taken as they are, without a Python object per line
  (``clean_block``, ``normalize_block``): most lists hold nothing else, and
  the provider judges them as it would any number.
* **Anything else** (spaces, dashes, dots, brackets, ``00``, a trunk ``(0)``,
  a national number) is read the way a phone company reads it, by Google's
  libphonenumber metadata (``phonenumbers``): ``+49 (0)30 1234567`` is
  49301234567; a number libphonenumber calls impossible for its country
  (``+1 555 0100``: too short for country 1) is rejected with that reason.
  A number is international when it starts with ``+``, ``00`` or a digit
  other than 0; one starting with a single 0 is national, and needs a
  ``default_region`` (``--default-region DE``: ``030 1234567`` is 49301234567).
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

from bulksend.errors import InputError, RecipientError

MIN_DIGITS = 7
MAX_DIGITS = 15

# Characters a person puts into a number for readability.
_IGNORED = str.maketrans("", "", " \t-.()[]\u00a0/")


def normalize_msisdn(raw: str, region: str | None = None) -> str:
    """Return the digits-only form of ``raw`` or raise ``RecipientError``;
    ``region`` (ISO 3166 code) is the country a national number is from."""
    # Fast paths: most lists hold clean digits, with or without a "+".
    # This runs once per recipient, so the common forms cost a few C calls.
    if raw.isdigit() and raw.isascii():
        if raw[0] != "0" and MIN_DIGITS <= len(raw) <= MAX_DIGITS:
            return raw
        if raw[:1] == "0" and raw[:2] != "00":  # a national number: "0301234567"
            return _read_messy(raw, region)
        digits = raw.removeprefix("00")
    elif raw[:1] == "+" and raw[1:].isdigit() and raw.isascii():
        digits = raw[1:]
        if digits[0] != "0" and MIN_DIGITS <= len(digits) <= MAX_DIGITS:
            return digits
    else:
        return _read_messy(raw, region)
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


_TOO = {2: "too short", 3: "too long", 4: "too short", 5: "an impossible length"}


def _read_messy(raw: str, region: str | None) -> str:
    """A number as a person wrote it, read by libphonenumber (the slow path)."""
    import phonenumbers  # only lists with messy lines pay for its import

    text = raw.strip()
    cleaned = text.translate(_IGNORED)
    if not cleaned:
        raise RecipientError("empty number", raw)
    bare = cleaned[1:] if cleaned[0] == "+" else cleaned
    if not (bare.isdigit() and bare.isascii()):
        raise RecipientError("not a phone number", raw)
    if cleaned[0] == "+" or (cleaned[0] != "0"):
        text = "+" + bare if cleaned[0] != "+" else text
    elif cleaned.startswith("00"):
        text = "+" + bare[2:]
    elif region is None:
        raise RecipientError("national format (leading 0); use the country code", raw)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        reason = "unknown country code" if exc.error_type == exc.INVALID_COUNTRY_CODE else "not a phone number"
        raise RecipientError(reason, raw) from None
    if number.extension:
        raise RecipientError("has an extension", raw)
    why = int(phonenumbers.is_possible_number_with_reason(number))
    if why == 1:
        raise RecipientError("unknown country code", raw)
    if why:
        local = " (a local number)" if why == 4 else ""
        raise RecipientError(f"{_TOO.get(why, 'impossible')} for country {number.country_code}{local}", raw)
    digits = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    return _check_digits(digits, raw)


def check_region(region: str | None) -> str | None:
    """``region`` upper-cased if libphonenumber knows it (None stays None), else ``InputError``."""
    if region is None:
        return None
    import phonenumbers

    code = region.strip().upper()
    if phonenumbers.country_code_for_region(code) == 0:
        raise InputError(f"--default-region {region!r}: not a region libphonenumber knows "
                         "(an ISO 3166 code such as DE, GB, US)")
    return code


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


def clean_block(data: bytes, first_field: bool = False, sep: int = _COMMA) -> CleanBlock | None:
    """Whole lines of a list, each a clean number (or, with ``first_field``, one
    up to the line's first ``sep``, a comma), normalized without a Python object per line.

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
        commas = np.flatnonzero(a == sep)
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
