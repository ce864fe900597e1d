"""``${key}`` message templates, filled the way Sinch XMS fills them.

Keys are 1 to 16 characters of ``[A-Za-z0-9._-]`` and case-sensitive. A
recipient's value comes from its own columns, else from the campaign's
defaults; with neither, the recipient cannot be sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from bulksend.errors import TemplateError

#: a placeholder's key (Sinch's grammar); ``core.message_rules`` refuses a ``${`` that opens no placeholder
KEY = r"[A-Za-z0-9._-]{1,16}"
PLACEHOLDER = re.compile(r"\$\{(" + KEY + r")\}")


def placeholders(body: str) -> tuple[str, ...]:
    """The distinct keys a body uses, in order of first use."""
    return tuple(dict.fromkeys(PLACEHOLDER.findall(body)))


def check_template(body: str, columns: Iterable[str], defaults: Mapping[str, str]) -> None:
    """Refuse, before anything is sent, a key no recipient could ever fill."""
    known = set(columns) | set(defaults)
    missing = [key for key in placeholders(body) if key not in known]
    if missing:
        names = ", ".join(f"${{{k}}}" for k in missing)
        raise TemplateError(
            f"the message uses {names} but the recipient list has no such column "
            "and no default was given (use --param KEY=VALUE)"
        )


def missing_values(
    keys: tuple[str, ...], params: Mapping[str, str] | None, defaults: Mapping[str, str]
) -> list[str]:
    """The keys this recipient has no value (and no default) for."""
    return [k for k in keys if not (params and params.get(k)) and k not in defaults]


def render(body: str, params: Mapping[str, str] | None, defaults: Mapping[str, str]) -> str:
    """The body one recipient receives."""

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        value = (params or {}).get(key) or defaults.get(key)
        if value is None:
            raise TemplateError(f"no value for ${{{key}}} and no default")
        return value

    return PLACEHOLDER.sub(fill, body)
