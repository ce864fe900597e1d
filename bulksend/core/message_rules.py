"""What a message may be, checked before anything is sent: pure rules over values.

One home for the rules a user's message and its options must pass, so the
command line and the Python API refuse the same things with the same words:

- a body is not empty, is valid text (no lone surrogates: bytes that were
  not UTF-8, kept by Python's ``surrogateescape``), carries no control
  character SMS cannot carry (every C0 control and DEL, except LF and CR,
  which GSM-7 encodes, and FF, which it encodes as an escape), and every
  ``${`` in it opens a placeholder of the grammar (``templates.PLACEHOLDER``);
  anything else would go out literally;
- a default value's key (``--param KEY=VALUE``) is in the placeholder grammar;
- a callback URL is http(s) with a host;
- times: ``send_at`` not in the past beyond ``GRACE``; ``expire_at`` after
  ``send_at`` (or now) and no further from it than the provider keeps a message.

Each check raises ``InputError`` with one line naming the option and value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from bulksend.core.templates import KEY, PLACEHOLDER
from bulksend.errors import InputError

#: how far in the past ``--send-at`` may be (a command typed a moment ago)
GRACE = timedelta(minutes=1)

#: C0 controls and DEL, minus LF, CR and FF (GSM-7 has those)
_CONTROL = re.compile(r"[\x00-\x09\x0b\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_KEY = re.compile(KEY)


def check_body(body: str, what: str = "the message") -> None:
    """Refuse a body that cannot be sent as the user meant it."""
    if not body.strip():
        raise InputError(f"{what} is empty: nothing to send")
    bad = _SURROGATE.search(body)
    if bad:
        raise InputError(f"{what} is not valid UTF-8 (an undecodable byte at character {bad.start() + 1})")
    control = _CONTROL.search(body)
    if control:
        raise InputError(f"{what} holds the control character {control.group()!r} at character "
                         f"{control.start() + 1}; SMS carries only line feeds, carriage returns and form feeds")
    at = body.find("${")
    while at >= 0:
        found = PLACEHOLDER.match(body, at)
        if found is None:
            end = body.find("}", at)
            shown = body[at:end + 1] if 0 <= end - at <= 40 else body[at:at + 20]
            shown += "..." if len(shown) < len(body) - at and not shown.endswith("}") else ""
            raise InputError(f"{what} has {shown!r}, which is not a placeholder: a key is 1 to 16 characters "
                             "of A-Z a-z 0-9 . _ - inside ${...}")
        at = body.find("${", found.end())


def check_text(value: str | None, flag: str) -> None:
    """A name, path or other text the journal keeps: valid Unicode (an argument
    whose bytes were not UTF-8 holds lone surrogates, which nothing can store)."""
    if value is not None and _SURROGATE.search(value):
        raise InputError(f"{flag} {value!r}: not valid UTF-8")


def check_defaults(defaults: Mapping[str, str], flag: str = "--param") -> None:
    """Keys in the placeholder grammar; values are text a message may carry."""
    for key, value in defaults.items():
        if not _KEY.fullmatch(key):
            raise InputError(f"{flag} {key!r}: a key is 1 to 16 characters of A-Z a-z 0-9 . _ -")
        if value:
            check_body(value, f"{flag} {key}")


def check_callback_url(url: str | None, flag: str = "--callback-url") -> None:
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{flag} {url!r}: not an http(s) URL")


def check_times(send_at: datetime | None, expire_at: datetime | None, now: datetime | None,
                longest: timedelta | None, provider: str = "the provider") -> None:
    """``send_at`` not in the past (beyond ``GRACE``; no check when ``now`` is None),
    ``expire_at`` after ``send_at`` (or ``now``) and at most ``longest`` after it.
    ``longest`` None: the provider takes no expiry at all."""
    if send_at is not None and now is not None and send_at < now - GRACE:
        raise InputError(f"--send-at {_text(send_at)} is in the past (now {_text(now)})")
    if expire_at is None:
        return
    if longest is None:
        raise InputError(f"--expire-at: {provider} does not take an expiry time")
    start = send_at if send_at is not None else now
    if start is None:
        return
    if expire_at <= start:
        what = f"--send-at {_text(send_at)}" if send_at is not None else f"now ({_text(start)})"
        raise InputError(f"--expire-at {_text(expire_at)} is not after {what}")
    if expire_at - start > longest:
        raise InputError(f"--expire-at {_text(expire_at)} is more than {_span(longest)} after "
                         f"{'--send-at' if send_at is not None else 'now'}; {provider} keeps a message "
                         f"at most {_span(longest)}")


def parse_time(text: str, what: str = "--send-at") -> datetime:
    """An aware UTC datetime from ISO-8601 text; no offset means UTC (as Sinch reads it)."""
    try:
        when = datetime.fromisoformat(text.strip())
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return when.astimezone(timezone.utc)
    except ValueError:
        raise InputError(f"{what} {text!r}: not an ISO-8601 time (e.g. 2026-05-01T09:00:00+02:00)") from None
    except OverflowError:
        raise InputError(f"{what} {text!r}: out of range") from None


def _text(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _span(span: timedelta) -> str:
    days, rest = divmod(int(span.total_seconds()), 86_400)
    return f"{days} days" if not rest else f"{span.total_seconds() / 3600:g} hours"
