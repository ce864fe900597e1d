"""Live progress: a bar on a terminal, a plain line now and then otherwise."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TextIO

from bulksend.engine.campaign import CampaignRun, CampaignStats


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def progress_line(stats: CampaignStats, width: int = 30, now: float | None = None) -> str:
    """``[#####.....] 12,000/100,000  3,980/s  ETA 0:22  failed 3``"""
    elapsed = (now if now is not None else time.monotonic()) - stats.started
    done = stats.settled
    rate = stats.sent / elapsed if elapsed > 0 else 0.0
    usable = _expected(stats)
    if usable is not None:
        frac = min(1.0, done / usable)
        bar = "#" * int(frac * width) + "." * (width - int(frac * width))
        eta = "0:00" if done >= usable else format_duration((usable - done) / rate) if rate > 0 else "--:--"
        head = f"[{bar}] {done:,}/{usable:,}  {rate:,.0f}/s  ETA {eta}"
    else:
        head = f"{done:,} sent  {rate:,.0f}/s  elapsed {format_duration(elapsed)}"
    tail = "".join(
        f"  {name} {value:,}" for name, value in
        (("failed", stats.failed), ("unknown", stats.unknown), ("retries", stats.retries),
         ("invalid", stats.invalid)) if value
    )
    return head + tail


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


async def show_progress(run: CampaignRun, stream: TextIO, tty: bool,
                        interval: float | None = None) -> None:
    """Draw until the run is done; cancel-safe."""
    interval = interval or (0.2 if tty else 5.0)
    try:
        while not run.done:
            await asyncio.sleep(interval)
            line = progress_line(run.stats)
            stream.write(("\r\x1b[K" + line) if tty else line + "\n")
            stream.flush()
    finally:
        if tty:
            stream.write("\r\x1b[K" + progress_line(run.stats) + "\n")
            stream.flush()


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
