"""Loading and checking the TOML config: one ``[plans.NAME]`` table a plan.

Every key is checked: an unknown key or a bad value is a ``ConfigError``
naming the file and the key (``plans.demo.rate``). Secrets never sit in the
file: a plan names the environment variables that hold them (``token_env``),
and they are read only when a provider is built.

This module knows the keys every plan has. A plan's provider-specific keys
and its default URL belong to the provider: the readers take the providers'
rules (``PlanRules``, by provider name) as an argument, and
``bulksend.providers.load_config`` passes the registry's. Nothing here
imports a provider.
"""

from __future__ import annotations

import ipaddress
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from bulksend.errors import ConfigError

T = TypeVar("T")


class PlanRules(Protocol):
    """What a provider says about its plans' tables (``providers.base.ProviderSpec`` is one)."""

    @property
    def keys(self) -> frozenset[str]:
        """The keys its plans may carry beside the common ones."""
        ...

    @property
    def base_url(self) -> Callable[[Mapping[str, Any], str | None, str, str], str]:
        """(its keys' values, the checked ``base_url`` given or None, where, source) -> the URL."""
        ...


@dataclass(frozen=True, slots=True)
class RetryConfig:
    attempts: int = 8
    initial: float = 0.5
    max_wait: float = 30.0
    jitter: float = 1.0
    deadline: float = 600.0


@dataclass(frozen=True, slots=True)
class AutoPauseConfig:
    """Pause a campaign when more than ``max_error_rate`` of its last
    ``window`` batches failed or ended unknown (``[plans.NAME.auto_pause]``)."""

    window: int = 20
    max_error_rate: float = 0.5


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    """A plan's way to its provider (``bulksend.engine.network`` applies it).

    ``proxy``: an http:// forward proxy (https targets go through it by
    CONNECT, TLS end to end), instead of ``HTTPS_PROXY``/``NO_PROXY``;
    ``proxy_auth_env``: the environment variable holding its ``user:password``;
    ``ca_file``: a PEM bundle trusted for this plan instead of the system's.
    There is deliberately no key that turns certificate verification off.
    """

    proxy: str | None = None
    proxy_auth_env: str | None = None
    ca_file: str | None = None


@dataclass(frozen=True, slots=True)
class PlanConfig:
    name: str
    provider: str
    base_url: str
    rate: float
    burst: int
    max_batch: int = 200
    #: requests in flight at most; with ``concurrency = "auto"`` the start, resized as it runs
    concurrency: int = 8
    #: ``concurrency = "auto"``: sized from the rate and the measured latency (Little's law)
    auto_concurrency: bool = False
    #: the most ``concurrency = "auto"`` may reach
    max_concurrency: int = 64
    sender: str | None = None
    max_parts: int | None = None
    timeout: float = 30.0
    retry: RetryConfig = field(default_factory=RetryConfig)
    #: provider-specific keys (service_plan_id, token_env, format, ...)
    options: Mapping[str, Any] = field(default_factory=dict)
    #: on by default; None (``auto_pause = false``): never pause on errors
    auto_pause: AutoPauseConfig | None = field(default_factory=AutoPauseConfig)
    #: how requests reach the provider: ``proxy``, ``proxy_auth_env``, ``ca_file``
    network: NetworkConfig = field(default_factory=NetworkConfig)

    @property
    def is_loopback(self) -> bool:
        return is_loopback_url(self.base_url)


@dataclass(frozen=True, slots=True)
class Config:
    path: str
    plans: Mapping[str, PlanConfig]
    #: the ``[sandbox]`` table, raw; the sandbox checks its own keys
    sandbox: Mapping[str, Any] = field(default_factory=dict)
    #: the ``[journal]`` table, raw
    journal: Mapping[str, Any] = field(default_factory=dict)

    def plan(self, name: str) -> PlanConfig:
        try:
            return self.plans[name]
        except KeyError:
            known = ", ".join(sorted(self.plans)) or "none"
            raise ConfigError(f"{self.path}: no plan named {name!r} (plans: {known})") from None


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_config(path: str | Path, providers: Mapping[str, PlanRules]) -> Config:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return parse_config(raw, str(path), providers)


def parse_config(raw: Mapping[str, Any], source: str, providers: Mapping[str, PlanRules]) -> Config:
    _no_unknown(raw, {"plans", "sandbox", "journal"}, "", source)
    plans_raw = raw.get("plans", {})
    if not isinstance(plans_raw, dict):
        raise ConfigError(f"{source}: 'plans' must be a table of [plans.NAME] tables")
    plans = {name: _plan(name, table, source, providers) for name, table in plans_raw.items()}
    sandbox = _table(raw, "sandbox", source)
    journal = _table(raw, "journal", source)
    _no_unknown(journal, JOURNAL_KEYS, "journal.", source)
    return Config(source, plans, sandbox, journal)


#: keys of the ``[journal]`` table (checked by bulksend.journal.settings)
JOURNAL_KEYS = frozenset({"path", "synchronous", "busy_timeout", "stop_timeout"})

_COMMON = frozenset({
    "provider", "base_url", "rate", "burst", "max_batch", "concurrency", "max_concurrency",
    "from", "max_parts", "timeout", "retry", "auto_pause", "proxy", "proxy_auth_env", "ca_file",
})


def _plan(name: str, table: Any, source: str, providers: Mapping[str, PlanRules]) -> PlanConfig:
    where = f"plans.{name}"
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: {where} must be a table")
    provider = _get(table, "provider", str, where, source)
    rules = providers.get(provider)
    if rules is None:
        raise ConfigError(
            f"{source}: {where}.provider: unknown provider {provider!r} "
            f"(one of {', '.join(sorted(providers))})"
        )
    _no_unknown(table, _COMMON | rules.keys, where + ".", source)
    options = {k: v for k, v in table.items() if k in rules.keys}
    max_batch = _get(table, "max_batch", int, where, source, 200, minimum=1)
    rate = float(_get(table, "rate", (int, float), where, source, minimum=0.001))
    burst = _get(table, "burst", int, where, source, max(max_batch, int(rate)), minimum=1)
    if burst < max_batch:
        raise ConfigError(
            f"{source}: {where}.burst ({burst}) must be at least max_batch ({max_batch}), "
            "or a full batch could never be sent"
        )
    return PlanConfig(
        name=name,
        provider=provider,
        base_url=rules.base_url(options, _base_url(table, where, source), where, source),
        rate=rate,
        burst=burst,
        max_batch=max_batch,
        **_concurrency(table, where, source),
        sender=_get(table, "from", str, where, source, None),
        max_parts=_get(table, "max_parts", int, where, source, None, minimum=1),
        timeout=float(_get(table, "timeout", (int, float), where, source, 30.0, minimum=0.001)),
        retry=_retry(table.get("retry", {}), where + ".retry", source),
        auto_pause=_auto_pause(table.get("auto_pause"), where + ".auto_pause", source),
        options=options,
        network=_network(table, where, source),
    )


def _network(table: Mapping[str, Any], where: str, source: str) -> NetworkConfig:
    """``proxy`` (http://host:port, no credentials in it), ``proxy_auth_env``, ``ca_file`` (an existing file)."""
    proxy = _get(table, "proxy", str, where, source, None)
    auth_env = _get(table, "proxy_auth_env", str, where, source, None)
    ca_file = _get(table, "ca_file", str, where, source, None)
    if proxy is not None:
        try:
            parts = urlsplit(proxy)
            _ = parts.port  # raises ValueError on a bad port
        except ValueError:
            parts = urlsplit("")
        if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
            raise ConfigError(f"{source}: {where}.proxy: not an http://host:port proxy URL: {proxy!r} "
                              "(https targets are tunnelled through it, TLS end to end)")
        if parts.username or parts.password:
            raise ConfigError(f"{source}: {where}.proxy: credentials do not belong in the config file; "
                              "put user:password in an environment variable named by proxy_auth_env")
        proxy = proxy.rstrip("/")
    if auth_env is not None and proxy is None:
        raise ConfigError(f"{source}: {where}.proxy_auth_env is set but {where}.proxy is not")
    if ca_file is not None:
        path = Path(ca_file).expanduser()
        if not path.is_absolute() and Path(source).is_file():
            path = Path(source).resolve().parent / path  # relative to the config file
        if not path.is_file():
            raise ConfigError(f"{source}: {where}.ca_file: no such file: {ca_file!r}")
        ca_file = str(path)
    return NetworkConfig(proxy, auth_env, ca_file)


def _concurrency(table: Mapping[str, Any], where: str, source: str) -> dict[str, Any]:
    """``concurrency``: a number, or ``"auto"`` (then capped by ``max_concurrency``, default 64)."""
    most = _get(table, "max_concurrency", int, where, source, 64, minimum=1)
    if table.get("concurrency") == "auto":
        return {"concurrency": min(8, most), "auto_concurrency": True, "max_concurrency": most}
    if isinstance(table.get("concurrency"), str):
        raise ConfigError(f"{source}: {where}.concurrency must be a number or \"auto\", "
                          f"not {table['concurrency']!r}")
    return {"concurrency": _get(table, "concurrency", int, where, source, 8, minimum=1), "max_concurrency": most}


def _base_url(table: Mapping[str, Any], where: str, source: str) -> str | None:
    """The plan's ``base_url``, checked, or None (its provider has a default)."""
    base = _get(table, "base_url", str, where, source, None)
    if base:
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{source}: {where}.base_url: not an http(s) URL: {base!r}")
        if parts.scheme == "http" and not is_loopback_url(base):
            raise ConfigError(
                f"{source}: {where}.base_url: plain http is only allowed to loopback "
                "(real providers need https)"
            )
        return str(base).rstrip("/")
    return None


def _retry(table: Any, where: str, source: str) -> RetryConfig:
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: {where} must be a table")
    _no_unknown(table, {"attempts", "initial", "max", "jitter", "deadline"}, where + ".", source)
    d = RetryConfig()
    num = (int, float)
    return RetryConfig(
        attempts=_get(table, "attempts", int, where, source, d.attempts, minimum=1),
        initial=float(_get(table, "initial", num, where, source, d.initial, minimum=0)),
        max_wait=float(_get(table, "max", num, where, source, d.max_wait, minimum=0)),
        jitter=float(_get(table, "jitter", num, where, source, d.jitter, minimum=0)),
        deadline=float(_get(table, "deadline", num, where, source, d.deadline, minimum=0.001)),
    )


def _auto_pause(table: Any, where: str, source: str) -> AutoPauseConfig | None:
    """On unless the plan says ``auto_pause = false``: a campaign that fails
    batch after batch should stop, not burn through a list of millions."""
    if table is None or table is True:
        return AutoPauseConfig()
    if table is False:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: {where} must be a table, true or false, not {table!r}")
    _no_unknown(table, {"window", "max_error_rate"}, where + ".", source)
    d = AutoPauseConfig()
    rate = float(_get(table, "max_error_rate", (int, float), where, source, d.max_error_rate, minimum=0))
    if rate >= 1:
        raise ConfigError(f"{source}: {where}.max_error_rate must be below 1 (a fraction of batches), not {rate!r}")
    return AutoPauseConfig(window=_get(table, "window", int, where, source, d.window, minimum=1),
                           max_error_rate=rate)


_MISSING: Any = object()


def _get(
    table: Mapping[str, Any],
    key: str,
    kind: type[T] | tuple[type, ...],
    where: str,
    source: str,
    default: Any = _MISSING,
    *,
    minimum: float | None = None,
) -> Any:
    if key not in table:
        if default is _MISSING:
            raise ConfigError(f"{source}: {where}.{key} is required")
        return default
    value = table[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) or not isinstance(value, kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise ConfigError(f"{source}: {where}.{key} must be {names}, not {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{source}: {where}.{key} must be a finite number, not {value!r}")
    if minimum is not None and value < minimum:  # type: ignore[operator]
        raise ConfigError(f"{source}: {where}.{key} must be at least {minimum}, not {value!r}")
    return value


# -- the generic numbers a user types on the command line or into the API ----
def check_max_batch(value: int | None, plan: PlanConfig | None = None, flag: str = "--max-batch") -> None:
    """At least 1 and, with ``plan``, never above the plan's ``max_batch``
    (the provider's limit is its own: ``bulksend.providers.checks``)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{flag} {value!r}: must be a whole number of recipients, at least 1")
    if plan is not None and value > plan.max_batch:
        raise ConfigError(f"{flag} {value}: above plan {plan.name}'s max_batch ({plan.max_batch}); "
                          "raise max_batch in the plan if the provider allows it")


def finite_positive(text: str) -> float:
    """A command-line number that must be finite and above 0 (a rate): the
    argparse type, so ``--rate nan`` is a usage error (exit 2), not a traceback."""
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"not a finite number above 0: {text!r}")
    return value


def check_seconds(value: float | None, flag: str) -> None:
    """A finite number of seconds, at least 0."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or not math.isfinite(value) or value < 0):
        raise ConfigError(f"{flag} {value!r}: must be a finite number of seconds, at least 0")


def _table(raw: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: [{key}] must be a table")
    return value


def _no_unknown(table: Mapping[str, Any], known: set[str] | frozenset[str], prefix: str, source: str) -> None:
    for key in table:
        if key not in known:
            raise ConfigError(f"{source}: unknown key {prefix}{key}")


def secret_from_env(
    env: Mapping[str, str], var: str | None, plan: PlanConfig, what: str = "token",
    read_file: Callable[[str], str] | None = None,
) -> str:
    """A secret from the environment variable the plan names.

    ``VAR_FILE`` naming a file works too (for secrets mounted as files). On a
    loopback sandbox plan a missing variable falls back to ``sandbox``, so the
    built-in sandbox runs with no set-up; a real provider never does.
    """
    if var:
        if env.get(var):
            return env[var]
        file_var = var + "_FILE"
        if env.get(file_var):
            reader = read_file or (lambda p: Path(p).read_text(encoding="utf-8"))
            try:
                return reader(env[file_var]).strip()
            except OSError as exc:
                raise ConfigError(f"plans.{plan.name}: cannot read {file_var}: {exc.strerror}") from None
    if plan.is_loopback:
        return "sandbox"
    if not var:
        raise ConfigError(f"plans.{plan.name}: no {what}_env given for the {what}")
    raise ConfigError(
        f"plans.{plan.name}: the {what} is read from the environment variable {var}, which is not set"
    )
