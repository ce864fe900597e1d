"""Where the journal is and how it behaves: ``[journal]``, flags, environment.

The path is, first found: ``--journal PATH``, ``$BULKSEND_JOURNAL``, the
config's ``[journal] path``, ``.bulksend/journal.db``. A relative path is
taken from the current directory: the journal belongs to the workspace
the command runs in.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bulksend.config import Config
from bulksend.errors import ConfigError
from bulksend.journal.journal import DEFAULT_PATH, SYNCHRONOUS

ENV_VAR = "BULKSEND_JOURNAL"


@dataclass(frozen=True, slots=True)
class JournalSettings:
    path: str = DEFAULT_PATH
    #: "normal" survives a killed process; "full" also a power cut (slower commits)
    synchronous: str = "normal"
    #: seconds to wait for another program's SQLite lock before giving up
    busy_timeout: float = 5.0
    #: on Ctrl-C/SIGTERM, seconds to wait for batches in flight before leaving them to resume
    stop_timeout: float = 30.0


def journal_settings(config: Config | None = None, path: str | None = None,
                     env: Mapping[str, str] | None = None) -> JournalSettings:
    env = os.environ if env is None else env
    table: Mapping[str, Any] = config.journal if config is not None else {}
    source = config.path if config is not None else "<config>"
    chosen = path or env.get(ENV_VAR) or table.get("path") or DEFAULT_PATH
    if not isinstance(chosen, str):
        raise ConfigError(f"{source}: journal.path must be a string, not {chosen!r}")
    sync = table.get("synchronous", "normal")
    if sync not in SYNCHRONOUS:
        raise ConfigError(f"{source}: journal.synchronous must be \"normal\" or \"full\", not {sync!r}")
    return JournalSettings(chosen, sync, _seconds(table, "busy_timeout", 5.0, source),
                           _seconds(table, "stop_timeout", 30.0, source))


def _seconds(table: Mapping[str, Any], key: str, default: float, source: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{source}: journal.{key} must be a finite number of seconds >= 0, not {value!r}")
    return float(value)
