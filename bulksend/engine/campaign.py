"""A campaign at run time: its producer, its counters, its results.

The producer streams the recipient list through the one intake
(``bulksend.lists``: invalid lines, opt-outs, template values, repeats,
parts, then each block cut into batches) and puts the batches on the plan's
queue; the queue is bounded, so memory stays flat however long the list is. Outcomes come back through ``after_send``.
"""

from __future__ import annotations

import asyncio
import csv
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from bulksend.config import AutoPauseConfig
from bulksend.core.estimate import BodyMeter
from bulksend.core.limits import Limit, Measured, limit
from bulksend.engine.ledger import Ledger
from bulksend.errors import BulksendError, CampaignRefused, InputError
from bulksend.lists.rejects import RejectsFile
from bulksend.lists.screen import ListCounts, Screener
from bulksend.lists.batches import cut, send_block
from bulksend.lists.sources import RecipientSource
from bulksend.outputs import open_private
from bulksend.models import Batch, BatchResult, Message, Recipient, Status, numbers_of

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_RESUMABLE = 75  # EX_TEMPFAIL: stopped early, run it again to go on


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """Everything a campaign needs, as a user would state it."""

    name: str
    plan: str
    message: Message
    recipients: RecipientSource | None = None
    exclude: tuple[RecipientSource, ...] = ()
    max_batch: int | None = None
    results_path: str | None = None
    rejects_path: str | None = None
    resend_unknown: bool = False

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 100 or ":" in self.name:
            raise InputError(f"campaign name {self.name!r}: 1 to 100 characters, no ':'")


@dataclass(frozen=True, slots=True)
class RetryWait:
    """A batch waiting to be sent again: try ``attempt`` of ``attempts``, due at ``at`` (the loop's clock)."""

    attempt: int
    attempts: int
    at: float


@dataclass(slots=True)
class CampaignStats:
    recipients_read: int = 0
    invalid: int = 0
    duplicates: int = 0
    excluded: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    not_sent: int = 0
    #: batches whose request left (not those queued and then skipped by a stop)
    batches: int = 0
    requests: int = 0
    retries: int = 0
    lookups: int = 0
    #: recipients in requests sent and not yet answered (at most concurrency x batch size)
    in_flight: int = 0
    #: recipients the run had from before its list (a journal's pending ones)
    waiting: int = 0
    #: requests the provider answered 429 (too many requests)
    rate_limited: int = 0
    #: answered requests and the seconds they took in all (their mean is the latency)
    answered: int = 0
    latency_total: float = 0.0
    #: why the last try failed ("" after a success), and the retry it waits for
    problem: str = ""
    retry: RetryWait | None = None
    #: an estimate of the lines to read (and recipients already waiting), for progress only
    total_hint: int | None = None
    #: recipients this run settles in all, once the whole list is read (see ``list_read``)
    total: int | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    #: CPU seconds the process had used when the run started, and when it ended
    cpu_started: float = field(default_factory=time.process_time)
    cpu_finished: float | None = None

    def list_read(self, waiting: int | None = None) -> None:
        """The whole list is read: the total is known (plus ``waiting``, the
        recipients the run had from before, such as a journal's)."""
        if waiting is not None:
            self.waiting = waiting
        self.total = self.admitted

    @property
    def admitted(self) -> int:
        """Recipients this run took on so far: those waiting from before, and the list's read so far
        less its invalid lines, repeats and exclusions."""
        return self.waiting + self.recipients_read - self.invalid - self.duplicates - self.excluded

    @property
    def settled(self) -> int:
        return self.sent + self.failed + self.unknown + self.not_sent

    @property
    def latency(self) -> float | None:
        """Mean seconds a request took to be answered, None before the first answer."""
        return self.latency_total / self.answered if self.answered else None

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started


@dataclass(frozen=True, slots=True)
class CampaignSummary:
    campaign: str
    plan: str
    recipients_read: int
    invalid: int
    duplicates: int
    excluded: int
    #: recipients the run had from before its list (a journal's, on resume); not in ``recipients_read``
    waiting: int
    sent: int
    failed: int
    unknown: int
    not_sent: int
    batches: int
    requests: int
    retries: int
    elapsed_s: float
    rate: float
    exit_code: int
    stopped_reason: str = ""
    last_errors: tuple[str, ...] = ()
    #: encoding, parts per recipient and total parts of the recipients this run read and admitted
    parts: dict[str, Any] = field(default_factory=dict)
    #: what held the rate back (None: nothing measured says, e.g. a short run)
    limit: Limit | None = None

    @property
    def admitted(self) -> int:
        return self.waiting + self.recipients_read - self.invalid - self.duplicates - self.excluded

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["limit"] = self.limit.to_dict() if self.limit is not None else None
        return out


class _CsvSink:
    """A CSV file opened on first write, flushed per batch."""

    def __init__(self, path: str | None, header: Sequence[str]) -> None:
        self.path = path
        self.header = header
        self._file: IO[str] | None = None
        self._writer: Any = None

    def rows(self, rows: Sequence[Sequence[object]]) -> None:
        if self.path is None:
            return
        if self._writer is None:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._file = open_private(self.path)  # checked before the run (bulksend.outputs); 0600
            self._writer = csv.writer(self._file)
            self._writer.writerow(self.header)
        self._writer.writerows(rows)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class CampaignRun:
    """One campaign being sent. Created by ``Engine.submit``."""

    def __init__(self, spec: CampaignSpec, ledger: Ledger, batch_size: int,
                 meter: BodyMeter | None = None, rate: float | None = None,
                 auto_pause: AutoPauseConfig | None = None) -> None:
        self.spec = spec
        self.ledger = ledger
        self.batch_size = batch_size
        self.meter = meter or BodyMeter(spec.message.max_parts)
        self.rate = rate
        #: requests in flight at most on its plan (set by the plan's pacer; ``concurrency = "auto"`` changes it)
        self.concurrency = 0
        self.stats = CampaignStats()
        #: called once, when the run is done, before ``wait`` returns (the progress line ends there)
        self.on_done: list[Callable[[], None]] = []
        self.stopping = False
        self.stopped_reason = ""
        self.refused: CampaignRefused | None = None
        self.crashed: BaseException | None = None
        self.errors: deque[str] = deque(maxlen=5)
        self.auto_pause = auto_pause
        self.auto_paused = False
        self._recent: deque[bool] = deque(maxlen=auto_pause.window if auto_pause else 1)
        self._recent_bad = 0  # how many of _recent are True, kept as they come and go
        self._workers: set[asyncio.Task[None]] = set()
        self._outstanding = 0
        self._produced = False
        self._done = asyncio.Event()
        self._results = _CsvSink(spec.results_path, ("msisdn", "status", "batch_id", "code", "attempts"))
        self._rejects = RejectsFile(spec.rejects_path)

    # -- control ---------------------------------------------------------
    def stop(self, reason: str = "stopped by the operator") -> None:
        """Take no new batches; those in flight finish and are recorded."""
        if not self.stopping:
            self.stopping = True
            self.stopped_reason = reason

    def refuse(self, exc: CampaignRefused) -> None:
        if self.refused is None:
            self.refused = exc
        self.stop(str(exc))

    def crash(self, exc: BaseException) -> None:
        if self.crashed is None and not isinstance(exc, asyncio.CancelledError):
            self.crashed = exc
        self.stop(f"internal error: {type(exc).__name__}: {exc}")

    def note_error(self, exc: BaseException) -> None:
        self.errors.append(str(exc))

    def track(self, worker: asyncio.Task[None]) -> None:
        """A worker sending one of this campaign's batches (see ``abort``)."""
        self._workers.add(worker)
        worker.add_done_callback(self._workers.discard)

    def abort(self) -> None:
        """Stop waiting for in-flight batches: cancel their workers now.

        Their outcome stays unknown to this run; the ledger keeps them as
        sent (in flight), so a journal reconciles them on resume.
        """
        self.stop()
        for worker in list(self._workers):
            worker.cancel()

    async def halt(self, reason: str, grace: float) -> None:
        """Stop taking batches, give in-flight ones ``grace`` seconds, then abort."""
        self.stop(reason)
        try:
            await asyncio.wait_for(asyncio.shield(self._done.wait()), grace)
        except asyncio.TimeoutError:
            self.errors.append(f"{len(self._workers)} batches still in flight after {grace:g}s; "
                               "their outcome is reconciled on resume")
            self.abort()

    # -- the producer ----------------------------------------------------
    async def produce(self, queue_put: Any, batches: AsyncIterator[Batch] | None = None) -> None:
        """Feed the plan's queue from ``batches`` (default: the recipient list)."""
        from_list = self.batches_from_list() if batches is None else None
        source = from_list or batches
        assert source is not None
        try:
            async for batch in source:
                if self.stopping:
                    if from_list:  # cut, never queued (a journal keeps its own as pending)
                        self._never_sent(numbers_of(batch.recipients))
                    break
                self._outstanding += 1
                await queue_put((batch, self))
        except BulksendError as exc:
            self.crash(exc)
        except Exception as exc:
            self.crash(exc)
        finally:
            if from_list:  # a list read in part accounts for its rest now, not when collected
                await from_list.aclose()
            self._produced = True
            self._check_done()

    async def batches_from_list(self) -> AsyncGenerator[Batch, None]:
        """The list through the one intake (``Screener``), each block cut into batches."""
        spec = self.spec
        if spec.recipients is None:
            raise InputError("no recipient list given")
        screener = Screener(spec.recipients, spec.message.body, spec.message.defaults, self.meter,
                            exclude=spec.exclude)
        size = self.batch_size
        fresh: Sequence[Recipient] = ()
        handed = seq = 0  # fresh[:handed] is handed out
        try:
            for screened in screener.blocks(send_block(size)):
                self.count_list(screened.counts)
                self._rejects.write(screened.rejects)
                fresh, handed = screened.recipients, 0
                for batch in cut(spec.name, seq, fresh, size):
                    handed, seq = handed + batch.size, seq + 1
                    yield batch
                if self.stopping:
                    return
            self.list_read()
        finally:  # stopped or failed part way: what was read and admitted was not sent
            left = numbers_of(fresh[handed:])
            if left:
                self._never_sent(left)

    # -- what the run is told (by its own producer, or a journal's batch source) --
    def count_list(self, counts: ListCounts) -> None:
        """Count a block of the list as screened."""
        s = self.stats
        s.recipients_read += counts.read
        s.invalid += counts.invalid
        s.excluded += counts.excluded
        s.duplicates += counts.duplicates

    def list_read(self, waiting: int = 0) -> None:
        """The whole list is read (see ``CampaignStats.list_read``)."""
        self.stats.list_read(waiting)

    def expect(self, total_hint: int | None, started: float | None = None) -> None:
        """An estimate of what is to come, for progress only; ``started``: when
        the run began (earlier than now when its list was read while it was sent)."""
        self.stats.total_hint = total_hint
        if started is not None:
            self.stats.started = started

    def meter_with(self, meter: BodyMeter) -> None:
        """Tally parts in ``meter``: the one the reader of the list counts with."""
        self.meter = meter

    # -- outcomes --------------------------------------------------------
    async def before_send(self, batch: Batch) -> None:
        await self.ledger.before_send(batch)

    async def after_send(self, batch: Batch, result: BatchResult, attempts: int) -> None:
        try:
            await self.ledger.after_send(batch, result, attempts)
            self._count(batch, result, attempts)
            self._watch(result)
        except Exception as exc:
            self.crash(exc)
        finally:
            self._settle()

    def abandoned(self, batch: Batch) -> None:
        """The batch's worker ended without an outcome; its request may have left."""
        self.stats.not_sent += batch.size
        self._results.rows([(r.msisdn, "not_sent", "", "", 0) for r in batch.recipients])
        self._settle()

    def handed_off(self, batch: Batch) -> None:
        """The batch's outcome goes to another run (``send --broker --detach``: the workers
        have it and ``resume`` collects it): stop waiting for it, counting nothing."""
        self._settle()

    def _never_sent(self, numbers: Sequence[str]) -> None:
        """Not sent: admitted but never batched (the run stopped first), or skipped."""
        self.stats.not_sent += len(numbers)
        self._results.rows([(n, "not_sent", "", "", 0) for n in numbers])

    def skipped(self, batch: Batch) -> None:
        self._never_sent(numbers_of(batch.recipients))
        task = asyncio.ensure_future(self.ledger.skipped(batch))
        task.add_done_callback(lambda t: self._settle())

    def _count(self, batch: Batch, result: BatchResult, attempts: int) -> None:
        if result.per_recipient is None:
            o = result.outcome
            self._add(o.status, batch.size)
            if o.status is not Status.ACCEPTED:
                self.errors.append(f"batch {batch.seq}: {o.code} {o.text}".strip())
            if self._results.path:
                self._results.rows([(r.msisdn, o.status.value, o.provider_id, o.code, attempts)
                                    for r in batch.recipients])
            return
        rows = []
        for r in batch.recipients:
            o = result.outcome_for(r.msisdn)
            self._add(o.status, 1)
            rows.append((r.msisdn, o.status.value, o.provider_id, o.code, attempts))
        self._results.rows(rows)

    def _watch(self, result: BatchResult) -> None:
        """Auto-pause: too many of the last batches failed or ended unknown."""
        policy = self.auto_pause
        if policy is None or self.stopping:
            return
        recent = self._recent
        if len(recent) == policy.window:
            self._recent_bad -= recent[0]  # about to fall out of the window
        failed = result.outcome.status is not Status.ACCEPTED
        recent.append(failed)
        self._recent_bad += failed
        bad = self._recent_bad
        if len(recent) == policy.window and bad / policy.window > policy.max_error_rate:
            self.auto_paused = True
            last = self.errors[-1] if self.errors else ""
            self.stop(f"auto-paused: {bad} of the last {policy.window} batches failed or ended unknown "
                      f"(max_error_rate {policy.max_error_rate:g})" + (f"; last error: {last}" if last else ""))

    def _add(self, status: Status, n: int) -> None:
        if status is Status.ACCEPTED:
            self.stats.sent += n
        elif status is Status.FAILED:
            self.stats.failed += n
        else:
            self.stats.unknown += n

    def _settle(self) -> None:
        self._outstanding -= 1
        self._check_done()

    def _check_done(self) -> None:
        if self._produced and self._outstanding <= 0 and not self._done.is_set():
            self.stats.finished = time.monotonic()
            self.stats.cpu_finished = time.process_time()
            self.stats.not_sent = max(self.stats.not_sent, self.stats.admitted - self.stats.sent
                                      - self.stats.failed - self.stats.unknown)
            self._results.close()
            self._rejects.close()
            self._done.set()
            for callback in self.on_done:
                callback()

    async def wait(self) -> CampaignSummary:
        await self._done.wait()
        return self.summary()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def summary(self) -> CampaignSummary:
        s = self.stats
        elapsed = s.elapsed
        return CampaignSummary(
            campaign=self.spec.name, plan=self.spec.plan,
            recipients_read=s.recipients_read, invalid=s.invalid, duplicates=s.duplicates,
            excluded=s.excluded, waiting=s.waiting, sent=s.sent, failed=s.failed, unknown=s.unknown,
            not_sent=s.not_sent, batches=s.batches, requests=s.requests, retries=s.retries,
            elapsed_s=round(elapsed, 3), rate=round(s.sent / elapsed, 1) if elapsed > 0 else 0.0,
            exit_code=self.exit_code(), stopped_reason=self.stopped_reason,
            last_errors=tuple(self.errors),
            parts=self.meter.tally.to_dict(self.rate) if self.meter.tally.recipients else {},
            limit=self.limit(),
        )

    def measured(self, achieved: float | None = None, elapsed: float | None = None) -> Measured:
        """The figures ``core.limits.limit`` judges, over the whole run (or ``achieved`` over a
        recent window, for the live view)."""
        s = self.stats
        took = s.elapsed if elapsed is None else elapsed
        cpu = ((s.cpu_finished or time.process_time()) - s.cpu_started) / took if took > 0 else None
        if achieved is None:
            achieved = (s.sent + s.failed + s.unknown) / took if took > 0 else 0.0
        return Measured(achieved=achieved, plan_rate=self.rate or 0.0, concurrency=self.concurrency,
                        batch=(s.sent + s.failed + s.unknown) / s.batches if s.batches else self.batch_size,
                        latency_s=s.latency, requests=s.requests, rate_limited=s.rate_limited, cpu=cpu)

    def limit(self) -> Limit | None:
        """What held this run's rate back (a run shorter than a second or of one request: nothing)."""
        if self.rate is None or self.stats.requests < 2 or self.stats.elapsed < 1.0:
            return None
        return limit(self.measured())

    def exit_code(self) -> int:
        s = self.stats
        if self.refused is not None:
            return EXIT_REFUSED
        if isinstance(self.crashed, InputError):
            return EXIT_USAGE
        if self.crashed is not None:
            return EXIT_FAILED
        if self.stopping and (s.not_sent or not self._produced):
            return EXIT_RESUMABLE
        if s.failed or s.unknown or s.not_sent:
            return EXIT_FAILED
        return EXIT_OK

