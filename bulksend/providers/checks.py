"""Everything a campaign's user typed, checked against its plan and provider before a request leaves.

The rules have their homes (``core.message_rules`` for the message,
``config`` for generic numbers, each provider module for its limits:
``ProviderSpec.max_batch``, ``sender_problem``, ``max_expiry``); this is the
one function that applies them all to a campaign about to be sent. The
public API calls it before a send or a dry run, and before a journaled
campaign is created, so the command line and Python code refuse the same
inputs with the same one-line ``InputError``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bulksend.config import PlanConfig, check_max_batch
from bulksend.core.message_rules import (
    check_body,
    check_callback_url,
    check_defaults,
    check_text,
    check_times,
    parse_time,
)
from bulksend.errors import InputError
from bulksend.models import Message
from bulksend.providers.registry import PROVIDERS


def check_message(message: Message) -> None:
    """What needs no plan: the body, the defaults' keys, the callback URL, times that parse."""
    check_body(message.body)
    check_defaults(message.defaults)
    check_callback_url(message.callback_url)
    check_text(message.callback_url, "--callback-url")
    check_text(message.sender, "--from")
    send_at = parse_time(message.send_at) if message.send_at else None
    expire_at = parse_time(message.expire_at, "--expire-at") if message.expire_at else None
    check_times(send_at, expire_at, None, timedelta.max)  # the order; the provider's cap needs the plan


def check_campaign(plan: PlanConfig, message: Message, max_batch: int | None, now: datetime | None) -> None:
    """Refuse a campaign whose inputs its plan's provider would refuse, or that
    would send what the user did not mean. ``now`` None: no "in the past" check
    (a campaign that already exists keeps the start time it was given)."""
    check_message(message)
    spec = PROVIDERS.get(plan.provider)
    check_max_batch(max_batch, plan)
    if spec is None:
        return
    if max_batch is not None and spec.max_batch is not None and max_batch > spec.max_batch:
        raise InputError(f"--max-batch {max_batch}: {spec.name} takes at most {spec.max_batch} per request")
    if message.sender is not None and spec.sender_problem is not None:
        problem = spec.sender_problem(message.sender)
        if problem:
            raise InputError(f"--from {message.sender!r}: {spec.name} refuses it: {problem}")
    send_at = parse_time(message.send_at) if message.send_at else None
    expire_at = parse_time(message.expire_at, "--expire-at") if message.expire_at else None
    check_times(send_at, expire_at, now, spec.max_expiry, spec.name)
