"""The sandbox's own settings: the ``[sandbox]`` table of a config file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bulksend.errors import ConfigError

MODES = ("queue", "reject")


@dataclass(frozen=True, slots=True)
class Faults:
    """Fractions of requests that go wrong, and how."""

    error_rate: float = 0.0          # answered 500/503
    rate_limit_rate: float = 0.0     # answered 429 with Retry-After
    retry_after: float = 1.0         # seconds, sent in Retry-After
    drop_rate: float = 0.0           # connection dropped before the batch is taken
    accept_drop_rate: float = 0.0    # batch taken, then the connection dropped
    latency_ms: float = 0.0          # added to every answer
    latency_jitter_ms: float = 0.0   # uniform extra 0..jitter

    def __post_init__(self) -> None:
        for name in ("error_rate", "rate_limit_rate", "drop_rate", "accept_drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"sandbox.faults.{name} must be between 0 and 1, not {value!r}")
        if self.latency_ms < 0 or self.latency_jitter_ms < 0 or self.retry_after < 0:
            raise ConfigError("sandbox.faults: latencies and retry_after must be >= 0")


@dataclass(frozen=True, slots=True)
class SandboxPlan:
    """A service plan as the sandbox provider sees it."""

    rate: float = 1000.0
    burst: float = 1000.0
    mode: str = "queue"
    #: when set, the token the plan accepts; None accepts any non-empty token
    token: str | None = field(default=None, repr=False)
    faults: Faults | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"sandbox plan mode must be one of {MODES}, not {self.mode!r}")
        if self.rate <= 0 or self.burst <= 0:
            raise ConfigError("sandbox plan rate and burst must be positive")


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    plans: Mapping[str, SandboxPlan] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    #: unknown plan ids are created on first use with ``open_plan`` settings
    open_plans: bool = False
    open_plan: SandboxPlan = field(default_factory=lambda: SandboxPlan(rate=1e9, burst=1e9))
    #: count only: no per-number tracking, no stored batches (for benchmarks)
    sink: bool = False
    seed: int | None = None
    host: str = "127.0.0.1"
    port: int = 8080

    def with_faults(self, **changes: float) -> SandboxConfig:
        return replace(self, faults=replace(self.faults, **changes))


def sandbox_config_from_table(table: Mapping[str, Any], env: Mapping[str, str]) -> SandboxConfig:
    """Build a ``SandboxConfig`` from a ``[sandbox]`` table; errors name the key."""
    known = {"plans", "faults", "open_plans", "sink", "seed", "host", "port"}
    for key in table:
        if key not in known:
            raise ConfigError(f"unknown key sandbox.{key}")
    plans = {pid: _plan(pid, t, env) for pid, t in table.get("plans", {}).items()}
    return SandboxConfig(
        plans=plans,
        faults=_faults(table.get("faults", {}), "sandbox.faults"),
        open_plans=bool(table.get("open_plans", False)),
        sink=bool(table.get("sink", False)),
        seed=table.get("seed"),
        host=str(table.get("host", "127.0.0.1")),
        port=int(table.get("port", 8080)),
    )


def _plan(pid: str, table: Mapping[str, Any], env: Mapping[str, str]) -> SandboxPlan:
    where = f"sandbox.plans.{pid}"
    for key in table:
        if key not in {"rate", "burst", "mode", "token_env", "faults"}:
            raise ConfigError(f"unknown key {where}.{key}")
    token_env = table.get("token_env")
    try:
        return SandboxPlan(
            rate=float(table.get("rate", 1000.0)),
            burst=float(table.get("burst", table.get("rate", 1000.0))),
            mode=str(table.get("mode", "queue")),
            token=env.get(token_env) if token_env else None,
            faults=_faults(table["faults"], where + ".faults") if "faults" in table else None,
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _faults(table: Mapping[str, Any], where: str) -> Faults:
    fields = set(Faults.__dataclass_fields__)
    for key, value in table.items():
        if key not in fields:
            raise ConfigError(f"unknown key {where}.{key}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}.{key} must be a number, not {value!r}")
    return Faults(**{k: float(v) for k, v in table.items()})
