"""Checks made before anything is sent, and the ``--dry-run`` estimate.

A campaign whose message can never go out (a placeholder nothing fills, a
body over the plan's ``max_parts`` or the provider's character limit) is
refused here with the count in the message, before a single request.
A templated body differs per recipient, so the list is read once ahead
(streamed, each distinct body counted once); a static body is counted once.
Both read the list through the one intake (``bulksend.lists.screen``), so
the estimate counts exactly what a send would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from bulksend.config import PlanConfig
from bulksend.core.estimate import BodyMeter
from bulksend.core.templates import check_template, placeholders
from bulksend.errors import InputError
from bulksend.lists.rejects import RejectsFile
from bulksend.lists.screen import Screener
from bulksend.lists.sources import RecipientSource, peek_columns
from bulksend.models import Message
from bulksend.providers import body_limit


class CampaignSpec(Protocol):
    """What preflight reads of a campaign (``bulksend.engine.CampaignSpec`` has it);
    preflight sits below the engine, so it names only the fields."""

    @property
    def message(self) -> Message: ...

    @property
    def recipients(self) -> RecipientSource | None: ...

    @property
    def exclude(self) -> tuple[RecipientSource, ...]: ...


@dataclass(frozen=True, slots=True)
class Estimate:
    """What a campaign would send, from one read of its list through the one intake."""

    #: recipients that would be messaged
    recipients: int
    invalid: int
    parts: dict[str, Any]
    read: int = 0
    duplicates: int = 0
    excluded: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"read": self.read, "invalid": self.invalid, "duplicates": self.duplicates,
                "excluded": self.excluded, **self.parts, "recipients": self.recipients}


def meter_for(spec: CampaignSpec, plan: PlanConfig) -> BodyMeter:
    return BodyMeter(spec.message.max_parts or plan.max_parts, body_limit(plan.provider))


def preflight(spec: CampaignSpec, plan: PlanConfig, *, scan: bool = True) -> None:
    """Raise ``InputError`` if the campaign's message cannot be sent as given."""
    body = spec.message.body
    keys = placeholders(body)
    if spec.recipients is not None:
        columns = peek_columns(spec.recipients)
        if columns is not None:
            check_template(body, columns, spec.message.defaults)
    meter = meter_for(spec, plan)
    if not keys:
        problem = meter.add(body)
        if problem:
            raise InputError(f"{problem}; nothing was sent")
    elif scan and spec.recipients is not None and spec.recipients.path != "-":
        estimate(spec, plan, refuse=True)


def estimate(spec: CampaignSpec, plan: PlanConfig, *, refuse: bool = False,
             rejects: RejectsFile | None = None) -> Estimate:
    """Read the list once, screened as a real send screens it (bad lines,
    opt-outs, template values, repeats), and count what the recipients that
    would really be messaged cost; ``rejects`` gets the lines a send would reject."""
    if spec.recipients is None:
        raise InputError("no recipient list given")
    meter = meter_for(spec, plan)
    screener = Screener(spec.recipients, spec.message.body, spec.message.defaults, meter,
                        exclude=spec.exclude, refuse=refuse)
    counts = screener.run(rejects)
    tally = meter.tally
    return Estimate(tally.recipients, counts.invalid, tally.to_dict(plan.rate), counts.read,
                    counts.duplicates, counts.excluded)


def render_estimate(est: Estimate, plan: PlanConfig) -> str:
    p = est.parts
    if not est.recipients:
        return f"no sendable recipients (read {est.read:,}: {_dropped(est)})"
    per = p["parts_per_recipient"]
    return "\n".join([
        f"dry run on plan {plan.name} ({plan.provider}, {plan.rate:g} recipients/s): nothing was sent",
        f"  recipients       {est.recipients:>12,}   (read {est.read:,}: {_dropped(est)})",
        f"  encoding         {p['encoding']:>12}   {_encodings(p['encodings'])}",
        f"  parts/recipient  {per['min']:>6} to {per['max']:<4} (mean {per['mean']})",
        f"  total parts      {p['total_parts']:>12,}",
        f"  est. duration    {_duration(p.get('estimated_duration_s', 0.0)):>12}   at the plan's rate",
    ])


def _dropped(est: Estimate) -> str:
    return f"invalid {est.invalid:,}, duplicates {est.duplicates:,}, excluded {est.excluded:,}"


def _encodings(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in counts.items()) if len(counts) > 1 else ""


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"
