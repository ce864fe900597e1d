"""The public Python API: what the CLI calls, and what a user's code calls.

::

    import bulksend

    summary = bulksend.send(
        "configs/sandbox.toml", plan="demo", recipients="numbers.csv",
        message="Hi ${name}, your code is ${code}", campaign="spring-sale",
    )
    print(summary.sent, summary.failed)

``send`` is synchronous; inside a running event loop use ``send_campaign``
or the ``Engine`` directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from bulksend.config import Config
from bulksend.providers import load_config
from bulksend.engine import CampaignRun, CampaignSpec, CampaignSummary, Engine
from bulksend.models import DeliveryReport, Message
from bulksend.preflight import Estimate, estimate, preflight
from bulksend.lists.rejects import RejectsFile
from bulksend.core.numbers import check_region
from bulksend.lists.scan import scan_inputs
from bulksend.lists.sources import RecipientSource, count_lines
from bulksend.runtime import run as run_loop

OnStart = Callable[[CampaignRun], Any]


def as_config(config: Config | str | Path) -> Config:
    return config if isinstance(config, Config) else load_config(config)


def default_campaign_name(recipients: str) -> str:
    stem = "stdin" if recipients == "-" else Path(recipients).name.split(".")[0] or "campaign"
    return f"{stem}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def build_spec(
    *,
    plan: str,
    recipients: str,
    message: str,
    campaign: str | None = None,
    sender: str | None = None,
    params: Mapping[str, str] | None = None,
    delivery_report: str = "none",
    send_at: str | None = None,
    expire_at: str | None = None,
    callback_url: str | None = None,
    max_parts: int | None = None,
    column: str | None = None,
    fmt: str | None = None,
    exclude: tuple[str, ...] = (),
    max_batch: int | None = None,
    results: str | None = None,
    rejects: str | None = None,
    resend_unknown: bool = False,
    delimiter: str | None = None,
    default_region: str | None = None,
) -> CampaignSpec:
    """A ``CampaignSpec`` from plain values (strings, as a user has them).

    ``delimiter``: a CSV's separator (default: sniffed from its header line);
    ``default_region``: the country (ISO code) national numbers are from."""
    name = campaign or default_campaign_name(recipients)
    region = check_region(default_region)
    return CampaignSpec(
        name=name,
        plan=plan,
        message=Message(
            body=message, sender=sender, defaults=dict(params or {}),
            delivery_report=DeliveryReport(delivery_report), send_at=send_at,
            expire_at=expire_at, callback_url=callback_url, max_parts=max_parts,
        ),
        recipients=RecipientSource(recipients, fmt, column, delimiter, region),
        exclude=tuple(RecipientSource(p, region=region) for p in exclude),
        max_batch=max_batch,
        results_path=results,
        rejects_path=rejects or (str(Path(results).with_suffix(".rejects.csv")) if results else None),
        resend_unknown=resend_unknown,
    )


async def send_campaign(
    config: Config | str | Path,
    spec: CampaignSpec,
    *,
    env: Mapping[str, str] | None = None,
    on_start: OnStart | None = None,
    handle_signals: bool = False,
) -> CampaignSummary:
    """Send one campaign and return its summary.

    With ``handle_signals`` the first SIGINT/SIGTERM stops taking new batches
    and lets in-flight ones finish; the summary then says what was not sent.
    """
    config = as_config(config)
    if spec.recipients is not None:  # read to its end before the first batch: exit 2 sends nothing
        scan_inputs(spec.recipients, spec.exclude)
    preflight(spec, config.plan(spec.plan))
    async with Engine(config, env=env) as engine:
        run = engine.submit(spec)
        if spec.recipients is not None and on_start is not None:  # a total only for whoever shows progress
            run.expect(count_lines(spec.recipients.path))
        if handle_signals:
            _stop_on_signals(run)
        if on_start is not None:
            on_start(run)
        return await run.wait()


def _stop_on_signals(run: CampaignRun, grace: float = 30.0) -> None:
    """First signal: no new batches, ``grace`` seconds for those in flight. Second: stop waiting."""
    from bulksend.campaigns import StopSignals

    signals = StopSignals(grace)
    signals.install()
    signals.attach(run)


def dry_run(config: Config | str | Path, spec: CampaignSpec) -> Estimate:
    """What ``spec`` would send (the counts a send would report, encoding, parts,
    duration); sends nothing but the rejects file a send would write."""
    plan = as_config(config).plan(spec.plan)
    if spec.recipients is not None:
        scan_inputs(spec.recipients, spec.exclude)
    preflight(spec, plan, scan=False)
    rejects = RejectsFile(spec.rejects_path)
    try:
        return estimate(spec, plan, refuse=True, rejects=rejects)
    finally:
        rejects.close()


def send(config: Config | str | Path, **spec: Any) -> CampaignSummary:
    """Send a campaign from synchronous code; keywords as for ``build_spec``."""
    return run_loop(send_campaign(config, build_spec(**spec)))
