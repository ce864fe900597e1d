"""The sandbox's own settings: the ``[sandbox]`` table of a config file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bulksend.config import is_loopback_url
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
    #: connection dropped at once, the batch taken ``late_accept_ms`` later (a
    #: front end that gave up while the back end was still working); XMS only,
    #: elsewhere it is an accept-drop
    late_accept_rate: float = 0.0
    late_accept_ms: float = 200.0
    latency_ms: float = 0.0          # added to every answer
    latency_jitter_ms: float = 0.0   # uniform extra 0..jitter

    def __post_init__(self) -> None:
        for name in ("error_rate", "rate_limit_rate", "drop_rate", "accept_drop_rate", "late_accept_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"sandbox.faults.{name} must be between 0 and 1, not {value!r}")
        if min(self.latency_ms, self.latency_jitter_ms, self.retry_after, self.late_accept_ms) < 0:
            raise ConfigError("sandbox.faults: latencies, late_accept_ms and retry_after must be >= 0")


@dataclass(frozen=True, slots=True)
class SandboxPlan:
    """A service plan as the sandbox provider sees it."""

    rate: float = 1000.0
    burst: float = 1000.0
    mode: str = "queue"
    #: when set, the token the plan accepts; None accepts any non-empty token
    token: str | None = field(default=None, repr=False)
    faults: Faults | None = None
    #: Sinch Classic application key and secret; None accepts any key / the secret "sandbox"
    key: str | None = field(default=None, repr=False)
    secret: str | None = field(default=None, repr=False)
    #: numbers ending with this are refused per number (Clickatell accepted:false, Classic 40001)
    reject_suffix: str = ""
    #: messages the plan may still send; then Clickatell answers 402, Classic 40200 (None: no limit)
    credit: int | None = None
    #: where Clickatell status callbacks go (Clickatell configures this per account, not per message)
    callback_url: str | None = None
    #: signs the callbacks this plan sends (XMS: HMAC headers; Clickatell: Basic password)
    callback_secret: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"sandbox plan mode must be one of {MODES}, not {self.mode!r}")
        if self.rate <= 0 or self.burst <= 0:
            raise ConfigError("sandbox plan rate and burst must be positive")
        if self.credit is not None and self.credit < 0:
            raise ConfigError("sandbox plan credit must be >= 0")
        if self.callback_url is not None and not is_loopback_url(self.callback_url):
            raise ConfigError(f"sandbox plan callback_url {self.callback_url!r}: the sandbox only calls "
                              "back to loopback addresses (127.0.0.0/8, ::1, localhost)")


@dataclass(frozen=True, slots=True)
class DeliverySim:
    """How the sandbox plays the handsets: final statuses, delays and callbacks.

    Each recipient's fate is drawn from the odds by hashing (seed, message,
    number), so it does not depend on the order requests arrive in and the
    GET reports always agree with the callbacks.
    """

    failed_rate: float = 0.0         # fraction ending Failed (XMS code 402)
    expired_rate: float = 0.0        # fraction ending Expired (XMS code 406)
    delay: float = 0.0               # seconds from dispatch to the final status
    delay_jitter: float = 0.0        # uniform extra 0..jitter seconds, per recipient
    callback_concurrency: int = 32   # callback POSTs in flight at once
    callback_timeout: float = 10.0   # seconds per callback POST
    retry_initial: float = 5.0       # first retry of a callback that got no 2xx; doubles (Sinch: 5 s)
    retries: int = 15                # retries per callback (Sinch: the last is 81,920 s after the first)

    def __post_init__(self) -> None:
        for name in ("failed_rate", "expired_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"sandbox.delivery.{name} must be between 0 and 1")
        if self.failed_rate + self.expired_rate > 1.0:
            raise ConfigError("sandbox.delivery: failed_rate + expired_rate must be at most 1")
        for name in ("delay", "delay_jitter", "retry_initial", "retries"):
            if getattr(self, name) < 0:
                raise ConfigError(f"sandbox.delivery.{name} must be >= 0")
        if self.callback_concurrency < 1 or self.callback_timeout <= 0:
            raise ConfigError("sandbox.delivery: callback_concurrency >= 1 and callback_timeout > 0")


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
    delivery: DeliverySim = field(default_factory=DeliverySim)

    def with_faults(self, **changes: float) -> SandboxConfig:
        return replace(self, faults=replace(self.faults, **changes))


def sandbox_config_from_table(table: Mapping[str, Any], env: Mapping[str, str]) -> SandboxConfig:
    """Build a ``SandboxConfig`` from a ``[sandbox]`` table; errors name the key."""
    known = {"plans", "faults", "open_plans", "sink", "seed", "host", "port", "delivery"}
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
        delivery=_delivery(table.get("delivery", {})),
    )


def _plan(pid: str, table: Mapping[str, Any], env: Mapping[str, str]) -> SandboxPlan:
    where = f"sandbox.plans.{pid}"
    for key in table:
        if key not in _PLAN_KEYS:
            raise ConfigError(f"unknown key {where}.{key}")

    def secret(name: str) -> str | None:
        var = table.get(name)
        return env.get(var) if var else None

    credit = table.get("credit")
    try:
        return SandboxPlan(
            rate=float(table.get("rate", 1000.0)),
            burst=float(table.get("burst", table.get("rate", 1000.0))),
            mode=str(table.get("mode", "queue")),
            token=secret("token_env"),
            faults=_faults(table["faults"], where + ".faults") if "faults" in table else None,
            key=secret("key_env"),
            secret=secret("secret_env"),
            reject_suffix=str(table.get("reject_suffix", "")),
            credit=None if credit is None else int(credit),
            callback_url=table.get("callback_url"),
            callback_secret=secret("callback_secret_env"),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


_PLAN_KEYS = frozenset({
    "rate", "burst", "mode", "token_env", "faults",
    "key_env", "secret_env", "reject_suffix", "credit", "callback_url", "callback_secret_env",
})


def _delivery(table: Any) -> DeliverySim:
    if not isinstance(table, dict):
        raise ConfigError("[sandbox.delivery] must be a table")
    fields = DeliverySim.__dataclass_fields__
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in fields:
            raise ConfigError(f"unknown key sandbox.delivery.{key}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"sandbox.delivery.{key} must be a number, not {value!r}")
        values[key] = int(value) if key in ("callback_concurrency", "retries") else float(value)
    return DeliverySim(**values)


def _faults(table: Mapping[str, Any], where: str) -> Faults:
    fields = set(Faults.__dataclass_fields__)
    for key, value in table.items():
        if key not in fields:
            raise ConfigError(f"unknown key {where}.{key}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}.{key} must be a number, not {value!r}")
    return Faults(**{k: float(v) for k, v in table.items()})
