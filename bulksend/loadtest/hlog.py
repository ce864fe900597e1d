"""``--histogram-log FILE``: the run's latency histograms in HdrHistogram's log format.

One interval line per second of the run and per kind, each a compressed,
base64 histogram from the HdrHistogram encoder, so HistogramLogAnalyzer,
HdrHistogram's ``HistogramLogProcessor`` or ``hdrh.log.HistogramLogReader``
can read, merge and plot them. Values are microseconds (the max column,
in milliseconds, is divided by 1000). Untagged lines are the latency from
intended time (what wrk2 logs); tagged ones are the other kinds:

``Tag=service``    actual send → answer, per HTTP attempt
``Tag=delivery``   accepted → delivery report (with ``--delivery``)
``Tag=lateness``   how late sends started: one interval for the whole run

A ``--find-max`` log holds its steps one after another on one time line,
as the report draws them.
"""

from __future__ import annotations

import time
from datetime import datetime
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from hdrh.log import HistogramLogWriter

from bulksend.errors import InputError
from bulksend.loadtest.recorder import Recorder

#: the recorder's per-second histograms and their log tags (None: untagged)
KINDS = (("latency", None), ("service_time", "service"), ("delivery", "delivery"))
US_PER_MS = 1000.0


def write_histogram_log(path: str | Path, runs: Sequence[tuple[float, Recorder]], title: str,
                        force: bool = False) -> Path:
    """Write ``runs`` (``(offset seconds, recorder)``, steps end to end) to ``path``."""
    target = Path(path)
    if target.exists() and not force:
        raise InputError(f"{target}: exists; give another --histogram-log file")
    try:
        with target.open("w", encoding="ascii") as f:
            _write(f, runs, title)
    except OSError as exc:
        raise InputError(f"{target}: cannot write the histogram log: {exc.strerror}") from None
    return target


def _write(f: IO[str], runs: Sequence[tuple[float, Recorder]], title: str) -> None:
    writer = HistogramLogWriter(f)
    writer.output_comment(f"bulksend loadtest: {title}")
    writer.output_comment("values in microseconds; untagged = latency from intended time, "
                          "Tag=service: from actual send, Tag=delivery: accepted to delivered, "
                          "Tag=lateness: send lateness (whole run)")
    writer.output_log_format_version()
    # hdrh's output_start_time takes milliseconds for seconds (and fails): the same line, by hand
    now = time.time()
    f.write(f"#[StartTime: {now:.3f} (seconds since epoch), {datetime.fromtimestamp(now).isoformat(' ')}]\n")
    writer.output_legend()
    for offset, rec in runs:
        for i, second in enumerate(rec.seconds):
            for name, tag in KINDS:
                h = getattr(second, name)
                if h is not None and h.get_total_count():
                    _interval(f, tag, offset + i, 1.0, h)
        if rec.lateness.get_total_count():
            _interval(f, "lateness", offset, max(rec.ran, 1e-3), rec.lateness)


def _interval(f: IO[str], tag: str | None, start: float, length: float, histogram: Any) -> None:
    """One interval line, as ``HistogramLogWriter.output_interval_histogram`` writes it, tagged."""
    payload = histogram.encode()
    text = payload.decode("ascii") if isinstance(payload, bytes) else str(payload)
    prefix = f"Tag={tag}," if tag else ""
    f.write(f"{prefix}{start:.3f},{length:.3f},{histogram.get_max_value() / US_PER_MS:.3f},{text}\n")
