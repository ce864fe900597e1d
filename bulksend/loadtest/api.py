"""Running load tests: one run, or a ``--find-max`` search of runs, in this
process or over worker processes. What the CLI calls, and what a user's code
calls::

    from bulksend.loadtest import LoadSpec, RateProfile, run_loadtest

    spec = LoadSpec(config.plan("demo"), RateProfile.constant(1000, 10))
    result = await run_loadtest(spec)
    print(result.achieved_rate, result.latency.p99)
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bulksend.errors import InputError
from bulksend.loadtest.recorder import Recorder
from bulksend.loadtest.result import LoadTestResult, summarize
from bulksend.loadtest.runner import run_worker
from bulksend.loadtest.search import Bounds, SearchPolicy, Verdict, bracket, judge
from bulksend.loadtest.spec import LoadSpec
from bulksend.loadtest.workers import WorkerPool


class StopSignal:
    """Stops a run early: no more batches start (here and in every worker),
    answers in flight are awaited, and the result says it was interrupted.
    ``handling()`` sets it on SIGINT/SIGTERM for as long as it is entered."""

    def __init__(self) -> None:
        self._flag = threading.Event()
        self._pools: list[WorkerPool] = []

    def set(self) -> None:
        self._flag.set()
        for pool in self._pools:
            pool.request_stop()

    def is_set(self) -> bool:
        return self._flag.is_set()

    def watch(self, pool: WorkerPool) -> None:
        self._pools.append(pool)
        if self.is_set():
            pool.request_stop()

    @contextlib.contextmanager
    def handling(self) -> Iterator[StopSignal]:
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.set)
                installed.append(sig)
        try:
            yield self
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)


async def run_loadtest(
    spec: LoadSpec,
    *,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
    pool: WorkerPool | None = None,
    max_latency_p99_ms: float | None = None,
    max_delivery_p99_ms: float | None = None,
    stop: StopSignal | None = None,
    watch: Callable[[Recorder], None] | None = None,
) -> LoadTestResult:
    """One run. ``workers > 1`` starts processes (or uses ``pool``); they read
    their secrets from the environment, not from ``env``. The two bounds only
    mark where the plan saturated. ``watch`` sees the recorder as the run starts
    (one worker only: worker processes' recorders come back at the end)."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    for flag, bound in (("--max-p99-ms", max_latency_p99_ms), ("--max-delivery-p99-ms", max_delivery_p99_ms)):
        if bound is not None and not (math.isfinite(bound) and bound > 0):
            raise InputError(f"{flag} {bound:g}: must be a finite number of milliseconds above 0")
    if workers == 1 and pool is None:
        recorder = await run_worker(spec, env=dict(env) if env is not None else None,
                                    stop=stop.is_set if stop is not None else None, watch=watch)
        return summarize(recorder, spec, 1, max_latency_p99_ms, max_delivery_p99_ms)
    async with _pool(workers, pool, stop) as active:
        recorder = await asyncio.get_running_loop().run_in_executor(None, active.run, spec)
    return summarize(recorder, spec, active.workers, max_latency_p99_ms, max_delivery_p99_ms)


@contextlib.asynccontextmanager
async def _pool(workers: int, pool: WorkerPool | None, stop: StopSignal | None) -> AsyncIterator[WorkerPool]:
    """``pool``, or a new one started and closed off the event loop (spawning takes a second)."""
    if pool is not None:
        yield pool
        return
    loop = asyncio.get_running_loop()
    started = WorkerPool(workers)
    await loop.run_in_executor(None, started.__enter__)
    if stop is not None:
        stop.watch(started)
    try:
        yield started
    finally:
        await loop.run_in_executor(None, started.close)


@dataclass(frozen=True, slots=True)
class FindMaxStep:
    rate: float
    verdict: Verdict
    result: LoadTestResult

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        return {"rate": self.rate, "ok": self.verdict.ok, "reasons": list(self.verdict.reasons),
                "limited_by": self.verdict.limited_by, "achieved_rate": r.achieved_rate,
                "rate_limited": r.rate_limited, "requests": r.requests,
                "latency_p99_ms": r.latency.p99, "lateness_p99_ms": r.lateness.p99,
                "delivery_p99_ms": r.delivery_latency.p99 if r.delivery_latency else None}


@dataclass(frozen=True, slots=True)
class FindMaxResult:
    """The highest rate that kept within the bounds, and how it was found."""

    max_rate: float | None
    #: the lowest failing rate above it (None if none failed)
    first_failing: float | None
    #: "plan" or "generator": whose limit the first failing step hit
    limited_by: str
    reasons: tuple[str, ...]
    steps: tuple[FindMaxStep, ...]
    bounds: Bounds
    policy: SearchPolicy
    #: why the search ended early (interrupted, provider refused), "" if it did not
    stopped: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"max_rate": self.max_rate, "first_failing": self.first_failing,
                "limited_by": self.limited_by, "reasons": list(self.reasons), "stopped": self.stopped,
                "bounds": _plain(self.bounds), "policy": _plain(self.policy),
                "steps": [s.to_dict() for s in self.steps]}


def _plain(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__dataclass_fields__}


StepHook = Callable[[FindMaxStep], Any]


async def find_max(
    spec: LoadSpec,
    *,
    policy: SearchPolicy,
    bounds: Bounds,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
    pause: float = 0.5,
    on_step: StepHook | None = None,
    stop: StopSignal | None = None,
    watch: Callable[[Recorder], None] | None = None,
) -> FindMaxResult:
    """Search for the highest rate within ``bounds``; each step runs ``spec``
    at a constant rate for its duration, ``pause`` seconds apart (so the
    plan's bucket refills). Worker processes are started once for all steps."""
    async with contextlib.AsyncExitStack() as stack:
        pool = await stack.enter_async_context(_pool(workers, None, stop)) if workers > 1 else None

        async def step(rate: float) -> LoadTestResult:
            return await run_loadtest(spec.at_rate(rate), workers=workers, env=env, pool=pool,
                                      max_latency_p99_ms=bounds.max_latency_p99_ms,
                                      max_delivery_p99_ms=bounds.max_delivery_p99_ms, stop=stop,
                                      watch=watch)

        return await search(step, policy, bounds, pause=pause, on_step=on_step)


async def search(
    run_step: Callable[[float], Awaitable[LoadTestResult]],
    policy: SearchPolicy,
    bounds: Bounds,
    *,
    pause: float = 0.0,
    on_step: StepHook | None = None,
) -> FindMaxResult:
    """The search loop over any step runner (the policy decides, this runs)."""
    steps: list[FindMaxStep] = []
    history: list[tuple[float, bool]] = []
    stopped = ""
    while (rate := policy.next_rate(history)) is not None:
        if steps and pause > 0:
            await asyncio.sleep(pause)
        result = await run_step(rate)
        found = FindMaxStep(rate, judge(result.step(), bounds), result)
        steps.append(found)
        if on_step is not None:
            on_step(found)
        if result.stopped:  # a cut-short step is shown, never judged
            stopped = result.stopped
            break
        history.append((rate, found.verdict.ok))
    good, bad = bracket(history)
    failing = next((s for s in steps if s.rate == bad and not s.verdict.ok), None)
    return FindMaxResult(
        max_rate=good, first_failing=bad,
        limited_by=failing.verdict.limited_by if failing else "",
        reasons=failing.verdict.reasons if failing else (),
        steps=tuple(steps), bounds=bounds, policy=policy, stopped=stopped,
    )
