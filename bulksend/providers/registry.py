"""The one place that lists the providers bulksend speaks.

Each provider module owns its knowledge (URLs, limits, plan keys and their
checks, lookups, polling, callback parsing) and exposes it as a
``ProviderSpec`` named ``SPEC``. Adding a provider is writing that module
and adding its ``SPEC`` to ``PROVIDERS`` below; nothing outside
``providers/`` changes.

``load_config`` / ``parse_config`` are ``bulksend.config``'s readers with
these providers' rules plugged in: ``config`` checks the common keys and
hands each plan's own keys to its provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bulksend import config as _config
from bulksend.config import Config
from bulksend.providers import classic, clickatell, xms
from bulksend.providers.base import ProviderSpec

#: provider name -> what bulksend knows about it
PROVIDERS: Mapping[str, ProviderSpec] = {spec.name: spec for spec in (xms.SPEC, clickatell.SPEC, classic.SPEC)}


def load_config(path: str | Path) -> Config:
    """Read and check a TOML config, every plan against its provider's rules."""
    return _config.load_config(path, PROVIDERS)


def parse_config(raw: Mapping[str, Any], source: str = "<config>") -> Config:
    """Check an already-parsed config table, every plan against its provider's rules."""
    return _config.parse_config(raw, source, PROVIDERS)
