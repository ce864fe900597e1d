"""The HTML report in a real browser: headless Chromium loads it, takes a
screenshot, and the test fails on any console message or an empty chart.

Skipped only when Chromium is absent (``.ci/run`` installs Debian's). The
report has no scripts; a copy of it gets a small probe script that writes
what the browser laid out (each chart's size, each line's drawn box) into an
attribute of <body>, which ``--dump-dom`` prints.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bulksend.loadtest import (
    Bounds,
    FindMaxResult,
    FindMaxStep,
    LoadSpec,
    RateProfile,
    SearchPolicy,
    judge,
    render_find_max,
    render_result,
    run_loadtest,
)
from bulksend.sandbox import SandboxConfig, SandboxPlan, running
from tests.helpers import make_config, plan_table

CHROMIUM = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium", shutil.which("chromium-browser"),
                             shutil.which("google-chrome")) if p and Path(p).exists()), None)
pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed"),
              pytest.mark.timeout(120)]

PROBE = """<script>
const charts = [...document.querySelectorAll("svg")].map(svg => {
  const box = svg.getBoundingClientRect();
  const lines = [...svg.querySelectorAll("polyline")].map(p => {
    const b = p.getBBox(); return [b.width, b.height]; });
  return {title: svg.getAttribute("aria-label"), width: box.width, height: box.height,
          drawn: lines.filter(([w, h]) => w > 1 || h > 1).length,
          dots: svg.querySelectorAll("circle").length,
          empty: svg.textContent.includes("no data")};
});
document.body.setAttribute("data-probe", JSON.stringify(charts));
</script>"""


def browse(html_file: Path, tmp_path: Path) -> tuple[list[dict[str, Any]], list[str], Path]:
    """Load the page in Chromium: (charts as laid out, console messages, screenshot)."""
    probed = tmp_path / f"probed-{html_file.name}"
    probed.write_text(html_file.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                      encoding="utf-8")
    shot = tmp_path / f"{html_file.stem}.png"
    assert CHROMIUM is not None
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", "--enable-logging=stderr", "--v=0",
         "--window-size=1100,3000", f"--screenshot={shot}", "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    marker = 'data-probe="'
    assert marker in done.stdout, done.stdout[:500]
    raw = done.stdout.split(marker, 1)[1].split('"', 1)[0]
    charts = json.loads(raw.replace("&quot;", '"').replace("&amp;", "&"))
    return charts, console, shot


def check(charts: list[dict[str, Any]], console: list[str], shot: Path, expected: int) -> None:
    assert not console, console  # the report has no scripts: any message is an error
    assert len(charts) == expected, [c["title"] for c in charts]
    for c in charts:
        assert c["width"] > 500 and c["height"] > 200, c
        assert not c["empty"] and c["drawn"] >= 1, c  # every chart has a line the browser drew
    assert shot.exists() and shot.stat().st_size > 20_000  # a page of charts, not a blank one


def test_probe_sees_console_errors_and_empty_charts(tmp_path: Path) -> None:
    """The checker itself: a page that logs an error and has an empty chart fails it."""
    from bulksend.loadtest.svg import Line, chart

    page = tmp_path / "bad.html"
    page.write_text("<html><body>" + chart("nothing", [Line("a", [])], y_label="x")
                    + "<script>console.error('broken')</script></body></html>", encoding="utf-8")
    charts, console, shot = browse(page, tmp_path)
    assert any("broken" in line for line in console)
    assert charts[0]["empty"] and charts[0]["drawn"] == 0
    with pytest.raises(AssertionError):
        check(charts, console, shot, 1)


async def test_a_real_run_report_renders_in_chromium(tmp_path: Path) -> None:
    # a sandbox that answers 429 above 300/s, loaded at 400/s: every chart has something to draw
    config = SandboxConfig(plans={"p1": SandboxPlan(rate=300, burst=30, mode="reject")})
    async with running(config) as sb:
        plan = make_config({"demo": plan_table(sb.url)}).plan("demo")
        result = await run_loadtest(LoadSpec(plan, RateProfile.constant(400, 2.5), batch_size=2))
    assert result.rate_limited > 0
    report = tmp_path / "run.html"
    report.write_text(render_result(result), encoding="utf-8")
    charts, console, shot = browse(report, tmp_path)
    check(charts, console, shot, 4)
    rates = charts[0]
    assert rates["title"].startswith("Rate") and rates["drawn"] >= 3  # target, sent, accepted


def test_a_find_max_report_renders_in_chromium(tmp_path: Path) -> None:
    from tests.loadtest.test_loadtest_core import synthetic_result

    ok, bad = synthetic_result(None, delivery=False), synthetic_result(2, delivery=False)
    bounds = Bounds()
    steps = (FindMaxStep(350, judge(ok.step(), bounds), ok),  # type: ignore[attr-defined,arg-type]
             FindMaxStep(700, judge(bad.step(), bounds), bad))  # type: ignore[attr-defined,arg-type]
    found = FindMaxResult(350, 700, steps[1].verdict.limited_by, steps[1].verdict.reasons, steps,
                          bounds, SearchPolicy(start=350))
    report = tmp_path / "fm.html"
    report.write_text(render_find_max(found), encoding="utf-8")
    charts, console, shot = browse(report, tmp_path)
    check(charts, console, shot, 4)
    assert charts[-1]["drawn"] == 2  # one percentile curve per step
