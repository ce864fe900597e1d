"""The load test as it runs: one line per second, off the recorder.

The recorder is a plain value the runner fills; this reads it once a
second, a quarter second after each second ends (so most answers to that
second's batches are in), and prints what the second did: the rate sent
against the target, what was accepted, p50/p99 latency from intended time,
429s, late and dropped sends. Plain lines on any stream; on a terminal they
are cut to its width rather than wrapped.

Only an in-process run can be watched (``--workers 1``): worker processes
send their recorders back when they finish.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import time
from collections.abc import Callable
from typing import TextIO

from bulksend.loadtest.histogram import values_at
from bulksend.loadtest.recorder import Recorder, Second

#: how long after a second ends its line is printed (answers still arriving)
SETTLE = 0.25


def second_line(index: int, sec: Second, span: float = 1.0) -> str:
    """What second ``index`` did, as one line; ``span`` < 1 for a last, partial second.
    Counts are recipients in that second (429s: answers)."""
    latency = "p50 -  p99 -"
    h = sec.latency
    if h is not None and h.get_total_count():
        at = values_at(h, (50.0, 99.0))
        latency = f"p50 {at[50.0] / 1000:,.2f} ms  p99 {at[99.0] / 1000:,.2f} ms"
    partial = f" (its first {span:.1f} s)" if span < 1 else ""
    return (f"  second {index + 1:>3}: sent {sec.sent:,} of {sec.target:,}, accepted {sec.accepted:,}  "
            f"{latency}  429s {sec.rate_limited:,}  late {sec.late:,}  dropped {sec.dropped:,}{partial}")


class LiveView:
    """Prints a watched recorder's seconds as they end; ``close`` stops it."""

    def __init__(self, out: TextIO, tty: bool = False, clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out
        self.tty = tty
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        self._recorder: Recorder | None = None
        self._shown = 0

    def watch(self, recorder: Recorder) -> None:
        """Follow ``recorder`` (a new one replaces the last: a find-max step)."""
        self.close()
        self._recorder, self._shown = recorder, 0
        self._task = asyncio.ensure_future(self._follow(recorder))

    def close(self) -> None:
        """Stop following; the schedule's seconds not printed yet are printed now."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        rec = self._recorder
        if rec is not None:
            for index in range(self._shown, min(len(rec.seconds), math.ceil(rec.ran))):
                self._print(second_line(index, rec.seconds[index], min(1.0, rec.ran - index)))
            self._recorder = None

    async def _follow(self, recorder: Recorder) -> None:
        while self._shown < recorder.duration:
            wait = recorder.start + self._shown + 1 + SETTLE - self.clock()
            if wait > 0:
                await asyncio.sleep(wait)
            if self._shown < len(recorder.seconds):
                self._print(second_line(self._shown, recorder.seconds[self._shown]))
            self._shown += 1

    def _print(self, line: str) -> None:
        if self.tty:
            line = line[:max(20, shutil.get_terminal_size().columns - 1)]
        print(line, file=self.out, flush=True)
