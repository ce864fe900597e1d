"""Ctrl-C and SIGTERM: stop taking batches, then stop waiting.

The first signal stops the run (no new batches) and gives the batches in
flight ``grace`` seconds; the second stops waiting at once. Batches still in
flight then stay in flight in the journal, to be reconciled on resume.
"""

from __future__ import annotations

import asyncio
import signal

from bulksend.engine import CampaignRun


class StopSignals:
    """First SIGINT/SIGTERM: stop, give batches in flight ``grace`` seconds.
    Second: stop waiting at once."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.requested = asyncio.Event()
        self.reason = ""
        self.count = 0
        self.run: CampaignRun | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._installed: list[int] = []

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.signal, signal.Signals(sig).name)
                self._installed.append(sig)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - not the main thread
                pass

    def remove(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._installed:
            loop.remove_signal_handler(sig)
        self._installed.clear()

    def signal(self, name: str = "SIGINT") -> None:
        self.count += 1
        if self.count == 1:
            self.reason = f"stopped by {name}"
            self.requested.set()
            self._halt()
        elif self.run is not None:
            self.run.abort()

    def attach(self, run: CampaignRun) -> None:
        self.run = run
        if self.requested.is_set():
            self._halt()
            if self.count > 1:
                run.abort()

    def _halt(self) -> None:
        if self.run is not None:
            task = asyncio.ensure_future(self.run.halt(self.reason, self.grace))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
