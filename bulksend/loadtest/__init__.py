"""Load-testing a service plan: an open-loop generator with HdrHistogram
latencies, delivery throughput, ``--find-max`` and an HTML report.

Layers, pure first: ``schedule`` (when each batch is due), ``recorder`` and
``histogram`` (what was measured, mergeable across processes), ``search``
(the find-max policy), ``result`` and ``saturation`` (the summary values,
where the plan saturated); then the I/O:
``runner`` (the async scheduler and sender), ``delivery`` (the report
receiver), ``workers`` (processes), ``api`` (what callers use), and the
output: ``summary`` (terminal), ``report``/``svg`` (HTML).
"""

from bulksend.loadtest.api import FindMaxResult, FindMaxStep, StopSignal, find_max, run_loadtest, search
from bulksend.loadtest.histogram import Percentiles
from bulksend.loadtest.recorder import Recorder
from bulksend.loadtest.report import render_find_max, render_result, write_report
from bulksend.loadtest.result import LoadTestResult, SecondPoint, summarize
from bulksend.loadtest.runner import INTERRUPTED
from bulksend.loadtest.saturation import Saturation, generator_behind, plan_saturation
from bulksend.loadtest.schedule import RateProfile, Schedule
from bulksend.loadtest.search import Bounds, SearchPolicy, StepResult, Verdict, judge
from bulksend.loadtest.spec import LoadSpec, parse_ramp, rate_profile, read_numbers
from bulksend.loadtest.summary import format_find_max, format_result
from bulksend.loadtest.workers import WorkerPool

__all__ = [
    "INTERRUPTED", "Bounds", "FindMaxResult", "FindMaxStep", "LoadSpec", "LoadTestResult", "Percentiles",
    "RateProfile", "Recorder", "Saturation", "Schedule", "SearchPolicy", "SecondPoint", "StepResult", "StopSignal",
    "Verdict", "WorkerPool", "find_max", "format_find_max", "format_result", "generator_behind", "judge",
    "parse_ramp", "plan_saturation",
    "rate_profile", "read_numbers", "render_find_max", "render_result", "run_loadtest", "search",
    "summarize", "write_report",
]
