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

import contextlib
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bulksend.config import Config, check_max_batch
from bulksend.providers import load_config
from bulksend.delivery.api import delivery_db_path, recording_sends
from bulksend.outputs import check_outputs
from bulksend.core.message_rules import check_text
from bulksend.providers.checks import check_campaign, check_message
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


def _now() -> datetime:
    return datetime.now(timezone.utc)


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

    What can be checked without the plan is checked here (the message, the
    defaults' keys, the callback URL, the times' order, ``max_batch`` >= 1);
    the rest when it is sent (``check_campaign``). ``InputError`` if not.

    ``delimiter``: a CSV's separator (default: sniffed from its header line);
    ``default_region``: the country (ISO code) national numbers are from.
    """
    name = campaign or default_campaign_name(recipients)
    region = check_region(default_region)
    check_max_batch(max_batch)
    built = Message(
        body=message, sender=sender, defaults=dict(params or {}),
        delivery_report=DeliveryReport(delivery_report), send_at=send_at,
        expire_at=expire_at, callback_url=callback_url, max_parts=max_parts,
    )
    check_message(built)
    for value, flag in ((name, "--campaign"), (sender, "--from"), (column, "--column"), (recipients, "--recipients"),
                        (results, "--results"), (rejects, "--rejects"), *((e, "--exclude") for e in exclude)):
        check_text(value, flag)
    return CampaignSpec(
        name=name,
        plan=plan,
        message=built,
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
    delivery_db: str | Path | None = None,
    record_delivery: bool = True,
    force: bool = False,
) -> CampaignSummary:
    """Send one campaign and return its summary.

    ``force``: overwrite existing results and rejects files (else refused).

    With ``handle_signals`` the first SIGINT/SIGTERM stops taking new batches
    and lets in-flight ones finish; the summary then says what was not sent.
    Accepted recipients are written to the delivery tables in ``delivery_db``
    (default: the journal's file, ``.bulksend/journal.db``) so that ``bulksend
    track`` and ``listen`` know them; ``record_delivery=False`` keeps none.
    """
    config = as_config(config)
    if spec.recipients is not None:  # read to its end before the first batch: exit 2 sends nothing
        scan_inputs(spec.recipients, spec.exclude)
    plan = config.plan(spec.plan)
    check_campaign(plan, spec.message, spec.max_batch, _now())
    preflight(spec, plan)
    check_outputs({"--results": spec.results_path, "--rejects": spec.rejects_path},
                  [spec.recipients.path if spec.recipients else None, *(e.path for e in spec.exclude), config.path],
                  force=force)
    async with contextlib.AsyncExitStack() as stack:
        ledger = None
        if record_delivery:
            ledger = await stack.enter_async_context(recording_sends(delivery_db or delivery_db_path(config)))
        engine = await stack.enter_async_context(Engine(config, env=env))
        run = engine.submit(spec, ledger=ledger)
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
    check_campaign(plan, spec.message, spec.max_batch, _now())
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
