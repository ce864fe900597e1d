"""Checks made before anything is sent, and the ``--dry-run`` estimate.

A campaign whose message can never go out (a placeholder nothing fills, a
body over the plan's ``max_parts`` or the provider's character limit) is
refused here with the count in the message, before a single request.
A templated body differs per recipient, so the list is read once ahead
(streamed, each distinct body counted once); a static body is counted once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bulksend.config import PlanConfig
from bulksend.core.estimate import BodyMeter
from bulksend.core.templates import check_template, missing_values, placeholders, render
from bulksend.engine.campaign import CampaignSpec
from bulksend.errors import InputError
from bulksend.providers import body_limit
from bulksend.recipients import peek_columns, read_blocks


@dataclass(frozen=True, slots=True)
class Estimate:
    """What a campaign would send, from one read of its list."""

    recipients: int
    invalid: int
    parts: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"recipients": self.recipients, "invalid": self.invalid, **self.parts}


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


def estimate(spec: CampaignSpec, plan: PlanConfig, *, refuse: bool = False) -> Estimate:
    """Read the list once and count what every valid line would cost.

    Duplicates are not removed here (that needs the campaign's ledger), so
    a list with duplicates is slightly overestimated.
    """
    if spec.recipients is None:
        raise InputError("no recipient list given")
    meter = meter_for(spec, plan)
    body, defaults = spec.message.body, spec.message.defaults
    keys = placeholders(body)
    invalid = 0
    for recipients, errors in read_blocks(spec.recipients, wanted=keys):
        invalid += len(errors)
        if not keys:
            meter.add(body, len(recipients))
            continue
        for r in recipients:
            if missing_values(keys, r.params, defaults):
                invalid += 1
                continue
            problem = meter.add(render(body, r.params, defaults))
            if problem and refuse:
                raise InputError(f"{spec.recipients.display}:{r.line}: {r.msisdn}: {problem}; nothing was sent")
            invalid += bool(problem)
    tally = meter.tally
    return Estimate(tally.recipients, invalid, tally.to_dict(plan.rate))


def render_estimate(est: Estimate, plan: PlanConfig) -> str:
    p = est.parts
    if not est.recipients:
        return f"no sendable recipients ({est.invalid:,} invalid lines)"
    per = p["parts_per_recipient"]
    return "\n".join([
        f"dry run on plan {plan.name} ({plan.provider}, {plan.rate:g} recipients/s): nothing was sent",
        f"  recipients       {est.recipients:>12,}   (invalid lines {est.invalid:,})",
        f"  encoding         {p['encoding']:>12}   {_encodings(p['encodings'])}",
        f"  parts/recipient  {per['min']:>6} to {per['max']:<4} (mean {per['mean']})",
        f"  total parts      {p['total_parts']:>12,}",
        f"  est. duration    {_duration(p.get('estimated_duration_s', 0.0)):>12}   at the plan's rate",
    ])


def _encodings(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in counts.items()) if len(counts) > 1 else ""


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"
