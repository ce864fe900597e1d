"""What to load-test and how: one ``LoadSpec``, checked when it is built."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from bulksend.config import PlanConfig
from bulksend.core.segments import count_segments
from bulksend.errors import InputError
from bulksend.loadtest.schedule import RateProfile, Schedule
from bulksend.models import Message

DEFAULT_MESSAGE = "bulksend load test"
#: generated recipients: 467 0000 0000 upwards (Swedish mobile range, never real here:
#: generated numbers are only sent to a loopback sandbox)
GENERATED_BASE = 46_700_000_000
GENERATED_SPAN = 100_000_000


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """One load-test run against one plan."""

    plan: PlanConfig
    profile: RateProfile
    batch_size: int = 1
    message: Message = field(default_factory=lambda: Message(DEFAULT_MESSAGE))
    #: numbers to send to, reused round-robin; empty means generated numbers
    recipients: tuple[str, ...] = ()
    #: requests in flight at most; a send due when the cap is reached is dropped
    max_in_flight: int = 512
    #: resends of a batch answered 429/5xx/connection refused (0: none)
    retries: int = 0
    timeout: float | None = None
    #: ask for per-recipient delivery reports and measure them
    delivery: bool = False
    #: how long to wait after the last send for outstanding delivery reports
    drain_timeout: float = 10.0
    #: a send later than this (seconds) counts as late
    late_bound: float = 0.005
    campaign: str = "loadtest"

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise InputError("--batch-size must be at least 1")
        if self.batch_size > self.plan.max_batch:
            raise InputError(f"--batch-size {self.batch_size} is above plans.{self.plan.name}.max_batch "
                             f"({self.plan.max_batch})")
        if self.max_in_flight < 1:
            raise InputError("--max-in-flight must be at least 1")
        if self.retries < 0:
            raise InputError("--retries must be >= 0")
        if not (math.isfinite(self.late_bound) and self.late_bound > 0):
            raise InputError(f"--late-ms {self.late_bound * 1000:g}: must be a finite number of milliseconds above 0")
        if self.timeout is not None and not (math.isfinite(self.timeout) and self.timeout > 0):
            raise InputError(f"--timeout {self.timeout:g}: must be a finite number of seconds above 0")
        if not (math.isfinite(self.drain_timeout) and self.drain_timeout >= 0):
            raise InputError(f"--drain-timeout {self.drain_timeout:g}: must be a finite number of seconds, 0 or more")
        if not self.recipients and not self.plan.is_loopback:
            raise InputError(
                f"plans.{self.plan.name} is a real provider ({self.plan.base_url}): give --recipients "
                "with your own test numbers; generated numbers are only sent to a loopback sandbox")
        if self.delivery and not self.plan.is_loopback:
            raise InputError(
                "--delivery listens on 127.0.0.1, which only a loopback (sandbox) plan can reach")

    @property
    def schedule(self) -> Schedule:
        return Schedule(self.profile, self.batch_size)

    @property
    def request_timeout(self) -> float:
        return self.timeout if self.timeout is not None else self.plan.timeout

    @property
    def parts_per_message(self) -> int:
        return count_segments(self.message.body).segments

    def at_rate(self, rate: float, duration: float | None = None) -> LoadSpec:
        """The same test at a constant ``rate`` (a ``--find-max`` step)."""
        return replace(self, profile=RateProfile.constant(rate, duration or self.profile.duration))


def parse_ramp(text: str) -> tuple[float, float]:
    """``FROM:TO`` recipients/s."""
    start, sep, end = text.partition(":")
    try:
        if not sep:
            raise ValueError
        pair = float(start), float(end)
    except ValueError:
        raise InputError(f"--ramp {text!r}: expected FROM:TO in recipients/s, e.g. 100:2000") from None
    if not all(math.isfinite(r) and r >= 0 for r in pair) or pair == (0.0, 0.0):
        raise InputError(f"--ramp {text!r}: rates must be finite, >= 0 and not both 0")
    return pair


def rate_profile(rate: float | None, ramp: str | None, duration: float) -> RateProfile:
    if not (math.isfinite(duration) and duration > 0):
        raise InputError(f"--duration {duration:g}: must be a finite number of seconds above 0")
    if ramp is not None:
        start, end = parse_ramp(ramp)
        return RateProfile(start, end, duration)
    if rate is None or rate <= 0:
        raise InputError("give a positive --rate R (recipients/s) or --ramp FROM:TO")
    return RateProfile.constant(rate, duration)


def read_numbers(path: str, limit: int = 1_000_000) -> tuple[str, ...]:
    """The valid numbers of a recipient list (invalid lines are skipped),
    at most ``limit`` of them: a load test reuses them round-robin."""
    from bulksend.recipients import RecipientSource, read_recipients

    numbers: list[str] = []
    for item in read_recipients(RecipientSource(path), wanted=()):
        if not isinstance(item, Exception):
            numbers.append(item.msisdn)
            if len(numbers) >= limit:
                break
    if not numbers:
        raise InputError(f"{path}: no valid recipient in the list")
    return tuple(numbers)
