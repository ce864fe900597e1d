"""Live progress: one line on a terminal (drawn by ``rich``), a plain line now and then otherwise.

The line counts **accepted** recipients against the total (the bar fills with
those only), then what failed, ended unknown, was not sent and is in flight,
and a rate over the last ``WINDOW`` seconds with the ETA it gives. When
nothing got through in that window and a try failed, it says why and which
retry it waits for instead of an ETA. On a terminal the line is cut to the
terminal's width (it never wraps, so it never stacks), notes are printed
above it (``note``), and it ends when the run does, before anything else is
printed. ``rich`` is imported only then, so ``--help`` does not pay for it;
it honours ``NO_COLOR``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from bulksend.engine.campaign import CampaignRun, CampaignStats

#: seconds the rate (and the ETA) is measured over
WINDOW = 10.0
Segments = list[tuple[str, str]]


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class RecentRate:
    """Accepted recipients a second over the last ``window`` seconds, from samples."""

    __slots__ = ("window", "_samples")

    def __init__(self, window: float = WINDOW) -> None:
        self.window = window
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, now: float, sent: int) -> float:
        """Record ``sent`` at ``now``; the rate since the oldest sample in the window."""
        samples = self._samples
        samples.append((now, sent))
        while len(samples) > 2 and samples[1][0] <= now - self.window:
            samples.popleft()
        t0, n0 = samples[0]
        return (sent - n0) / (now - t0) if now > t0 else 0.0


def segments(stats: CampaignStats, width: int = 30, now: float | None = None, rate: float | None = None,
             limit: str = "", done: bool = False) -> Segments:
    """The progress line as ``(text, style)`` pieces; ``rate``: the recent rate (default: the average)."""
    now = time.monotonic() if now is None else now
    elapsed = now - stats.started
    if rate is None:
        rate = stats.sent / elapsed if elapsed > 0 else 0.0
    usable = _expected(stats)
    stuck = _stuck(stats, rate, now, done)
    out: Segments = []
    if usable is not None:
        good = int(width * min(1.0, stats.sent / usable))
        bad = min(width - good, int(width * min(1.0, (stats.failed + stats.unknown) / usable)))
        out += [("[", ""), ("#" * good, "green"), ("x" * bad, "red"), ("." * (width - good - bad), "dim"),
                ("] ", ""), (f"{stats.sent:,}/{usable:,}", "bold")]
        if stats.sent >= usable:
            eta = "0:00"
        else:
            eta = format_duration((usable - stats.sent) / rate) if rate > 0 else "--:--"
        out += [(f"  {rate:,.0f}/s", "")] + ([] if stuck else [(f"  ETA {eta}", "")])
    else:
        out += [(f"{stats.sent:,} sent", "bold"), (f"  {rate:,.0f}/s  elapsed {format_duration(elapsed)}", "")]
    if stuck:  # before the counts: on a narrow terminal the end of the line is cut
        out.append((f"  — {stuck}", "bold red"))
    for name, value, style in (("failed", stats.failed, "red"), ("unknown", stats.unknown, "yellow"),
                               ("not sent", stats.not_sent, "yellow"), ("in flight", stats.in_flight, "cyan"),
                               ("retries", stats.retries, ""), ("invalid", stats.invalid, "")):
        if value:
            out.append((f"  {name} {value:,}", style))
    if limit and not stuck:
        out.append((f"  limited by {limit}", "dim"))
    return out


def progress_line(stats: CampaignStats, width: int = 30, now: float | None = None,
                  rate: float | None = None) -> str:
    """``[#####.....] 12,000/100,000  3,980/s  ETA 0:22  failed 3``: the plain line."""
    return "".join(text for text, _style in segments(stats, width, now, rate))


def _stuck(stats: CampaignStats, rate: float, now: float, done: bool = False) -> str:
    """Why nothing gets through ("" while it does): the last failure and the retry waited for."""
    if rate > 0 or not stats.problem:
        return ""
    wait = stats.retry
    if wait is None or done:
        return stats.problem
    return f"{stats.problem} — retry {wait.attempt}/{wait.attempts} in {math.ceil(max(0.0, wait.at - now))} s"


def _expected(stats: CampaignStats) -> int | None:
    """Recipients the run will settle: exact once the list is read, until then
    from the lines counted ahead (a CSV header is not counted; blank lines and
    comments make it a little high); None when nothing was counted."""
    if stats.total is not None:
        return max(1, stats.total)
    if not stats.total_hint:
        return None
    lines = max(stats.total_hint, stats.recipients_read)
    return max(1, lines - stats.invalid - stats.duplicates - stats.excluded)


def limit_now(run: CampaignRun, rate: float) -> str:
    """What holds the rate back now, in a few words ("" when nothing does, or not yet known)."""
    from bulksend.cli.render import limit_short
    from bulksend.core.limits import limit

    if run.stats.requests < 2 or rate <= 0:
        return ""
    found = limit(run.measured(achieved=rate))
    return limit_short(found) if found is not None else ""


class LiveLine:
    """The one line on a terminal, redrawn in place; ``note`` prints above it."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(file=stream, highlight=False)
        self.live = Live(console=self.console, auto_refresh=False, transient=False,
                         redirect_stdout=False, redirect_stderr=False)
        self.live.start()

    def show(self, pieces: Segments) -> None:
        from rich.text import Text

        if pieces and pieces[0][0] == "[" and self.console.width < 100:  # a narrower bar
            bar = self.console.width // 6
            pieces = [pieces[0]] + _shrink(pieces[1:4], bar) + pieces[4:]
        text = Text.assemble(*pieces, no_wrap=True, overflow="ellipsis")
        text.truncate(max(10, self.console.width - 1), overflow="ellipsis")
        self.live.update(text, refresh=True)

    def note(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        self.live.stop()


def _shrink(bar: Segments, width: int) -> Segments:
    """The bar's three runs (accepted, failed, to go) scaled to ``width`` characters."""
    full = sum(len(text) for text, _ in bar) or 1
    good, bad = (len(text) * width // full for text, _ in bar[:2])
    return [(bar[0][0][:1] * good, bar[0][1]), (bar[1][0][:1] * bad, bar[1][1]),
            ("." * (width - good - bad), bar[2][1])]


#: the line being drawn now, if any (``note`` prints above it)
_current: LiveLine | None = None


def note(text: str, stream: TextIO) -> None:
    """Print a line for the operator: above the live line when one is drawn."""
    if _current is not None:
        _current.note(text)
    else:
        print(text, file=stream, flush=True)


async def show_progress(run: CampaignRun, stream: TextIO, tty: bool,
                        interval: float | None = None) -> None:
    """Draw until the run is done (the line ends when it is); cancel-safe."""
    global _current
    interval = interval or (0.2 if tty else 5.0)
    recent = RecentRate()
    recent.add(run.stats.started, 0)  # the first ticks: the rate since the start
    rate = 0.0

    def draw(final: bool = False) -> Any:
        nonlocal rate
        now = time.monotonic()
        rate = recent.add(now, run.stats.sent)
        limit = "" if final else limit_now(run, rate)
        return segments(run.stats, now=now, rate=rate, limit=limit, done=final)

    line = LiveLine(stream) if tty else None
    _current = line

    def end() -> None:
        global _current
        if line is not None and _current is line:
            line.show(draw(final=True))
            line.stop()
            _current = None

    run.on_done.append(end)
    try:
        while not run.done:
            await asyncio.sleep(interval)
            if run.done:
                break
            if line is not None:
                line.show(draw())
            else:
                stream.write("".join(text for text, _ in draw()) + "\n")
                stream.flush()
    finally:
        end()


def scan_progress(stream: TextIO, tty: bool, name: str) -> Callable[[int, int], None] | None:
    """The pre-scan's progress (``checking FILE  42%``), on a terminal only, a few times a second."""
    if not tty:
        return None
    shown = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if now - shown[0] < 0.2 and done < total:
            return
        shown[0] = now
        pct = f"{100 * done // total:3d}%" if total else ""
        stream.write(f"\r\x1b[Kchecking {name} to its end before sending  {pct}")
        if done >= total:
            stream.write("\r\x1b[K")
        stream.flush()
    return show
