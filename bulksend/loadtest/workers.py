"""``--workers N``: N processes, each with its own event loop and session,
sharing one schedule (worker ``i`` sends batches ``i, i+N, ...``).

The processes are started once (spawn, so nothing of the parent's loop is
inherited) and reused for every run, which matters for ``--find-max``. A
run goes: the parent picks a start time a little ahead on the monotonic
clock (system-wide on Linux and macOS, so every process agrees on it), each
worker runs its share and sends back its ``Recorder`` in wire form, and the
parent merges them. A worker's exception is sent back and raised in the
parent.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from multiprocessing.connection import Connection
from typing import Any

from bulksend.loadtest.recorder import Recorder
from bulksend.loadtest.spec import LoadSpec

#: time for every worker to get the start message and set up its session
START_LEAD = 0.2
READY_TIMEOUT = 60.0


def _worker_main(conn: Connection, index: int, workers: int, stop: Any) -> None:
    # Ctrl-C reaches the whole process group: the parent alone decides, via ``stop``.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Imports happen here, before "ready", so they are not on the clock.
    from bulksend.loadtest.runner import run_worker
    from bulksend.runtime import run

    conn.send(("ready", None))
    while True:
        message = conn.recv()
        if message[0] == "stop":
            return
        spec, start_at = message[1], message[2]
        try:
            recorder = run(run_worker(spec, worker=index, workers=workers, start_at=start_at,
                                      stop=stop.is_set))
            conn.send(("done", recorder.to_wire()))
        except Exception as exc:  # sent back, raised in the parent
            try:
                conn.send(("error", exc))
            except Exception:  # an exception that does not pickle
                conn.send(("error", RuntimeError(f"worker {index}: {type(exc).__name__}: {exc}")))


class WorkerPool:
    """``with WorkerPool(2) as pool: recorder = pool.run(spec)``."""

    def __init__(self, workers: int) -> None:
        if workers < 2:
            raise ValueError("a pool is for 2 workers or more")
        self.workers = workers
        self._procs: list[Any] = []
        self._conns: list[Connection] = []
        self._ctx = multiprocessing.get_context("spawn")
        self._stop = self._ctx.Event()

    def request_stop(self) -> None:
        """Workers start no more batches (in this run or any later one)."""
        self._stop.set()

    def __enter__(self) -> WorkerPool:
        ctx = self._ctx
        try:
            for index in range(self.workers):
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_worker_main, args=(child, index, self.workers, self._stop),
                                   name=f"bulksend-loadtest-{index}", daemon=True)
                proc.start()
                child.close()
                self._procs.append(proc)
                self._conns.append(parent)
            for conn in self._conns:
                self._receive(conn, READY_TIMEOUT)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, spec: LoadSpec) -> Recorder:
        start_at = time.monotonic() + START_LEAD
        for conn in self._conns:
            conn.send(("run", spec, start_at))
        wait = START_LEAD + spec.profile.duration + spec.request_timeout * (spec.retries + 1) \
            + spec.drain_timeout + 30
        wires = [self._receive(conn, wait) for conn in self._conns]
        merged = Recorder.from_wire(wires[0])
        for wire in wires[1:]:
            merged.merge(Recorder.from_wire(wire))
        return merged

    def _receive(self, conn: Connection, timeout: float) -> Any:
        if not conn.poll(timeout):
            raise RuntimeError(f"a load-test worker did not answer within {timeout:.0f}s")
        try:
            kind, payload = conn.recv()
        except EOFError:
            raise RuntimeError("a load-test worker exited unexpectedly") from None
        if kind == "error":
            raise payload
        return payload

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(("stop",))
            except (OSError, ValueError):
                pass
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        for conn in self._conns:
            conn.close()
        self._procs.clear()
        self._conns.clear()
