"""Logging for the command line: stdlib ``logging`` to stderr, text or JSON,
configured once by ``bulksend.cli.main`` from ``-v``/``-q``/``--log-level``/``--log-format``.

Library modules log through ``logging.getLogger(__name__)`` and never configure
anything. Whatever they log passes :class:`RedactSecrets` first: the value of
every environment variable that holds a secret (a name with TOKEN, SECRET,
PASSWORD, PASSWD, API_KEY or CREDENTIAL in it), and any value registered with
:func:`redact` (the CLI registers the message body), is replaced by ``***``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Mapping
from typing import TextIO

LEVELS = ("debug", "info", "warning", "error", "critical")
FORMATS = ("text", "json")
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|CREDENTIAL|AUTH", re.IGNORECASE)
_MIN_SECRET = 4  # shorter values would blank out ordinary words
_REGISTERED: set[str] = set()
MASK = "***"


def redact(value: str | None) -> None:
    """Never log ``value`` (a message body, a token read from a file)."""
    if value and len(value) >= _MIN_SECRET:
        _REGISTERED.add(value)


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    values = {v for k, v in env.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_SECRET}
    return sorted(values | _REGISTERED, key=len, reverse=True)  # longest first: no partial masks


class RedactSecrets(logging.Filter):
    """Rewrites each record so no secret value is left in its message or exception text."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self._environ = environ

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = secret_values(self._environ)
        if not secrets:
            return True
        text = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        for value in secrets:
            text = text.replace(value, MASK)
            if record.exc_text:
                record.exc_text = record.exc_text.replace(value, MASK)
        record.msg, record.args = text, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, msg (and exc when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                  + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage(),
        }
        if record.exc_text or record.exc_info:
            doc["exc"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(doc, ensure_ascii=False)


def level_of(verbose: int, quiet: int, level: str | None) -> int:
    """``--log-level`` wins; else warning, one step down per ``-v``, up per ``-q``."""
    if level:
        return int(getattr(logging, level.upper()))
    return max(logging.DEBUG, min(logging.CRITICAL, logging.WARNING - 10 * verbose + 10 * quiet))


def configure(level: int, fmt: str = "text", stream: TextIO | None = None) -> logging.Handler:
    """Point the ``bulksend`` logger at stderr (replacing what an earlier call set up).

    Records still propagate to the root logger (where an application's or
    pytest's own handlers may listen); the root has none in the ``bulksend``
    command, so nothing is written twice."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactSecrets())
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("bulksend: %(levelname)s: %(name)s: %(message)s"))
    logger = logging.getLogger("bulksend")
    for old in [h for h in logger.handlers if getattr(h, "_bulksend_cli", False)]:
        logger.removeHandler(old)
    handler._bulksend_cli = True  # type: ignore[attr-defined]
    handler._bulksend_level = logger.level  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler


def unconfigure(handler: logging.Handler) -> None:
    """Undo :func:`configure` (``main`` called in-process, e.g. by tests, leaves no trace)."""
    logger = logging.getLogger("bulksend")
    logger.removeHandler(handler)
    logger.setLevel(getattr(handler, "_bulksend_level", logging.NOTSET))
