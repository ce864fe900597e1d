"""What goes through Redis, as bytes: key names, batch entries, outcomes.

Pure: values in, field maps out, and back. A plan's stream entry holds a
batch (campaign, seq, size, recipients); the message lives once in the
campaign's hash. An outcome entry holds what a worker learned of a batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from bulksend.models import (
    Batch,
    BatchResult,
    DeliveryReport,
    Message,
    Numbers,
    Outcome,
    Recipient,
    Status,
)

GROUP = "workers"
PREFIX = "bulksend:"

Fields = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Keys:
    """Redis key names; every one starts with ``prefix``."""

    prefix: str = PREFIX

    def stream(self, plan: str) -> str:
        return f"{self.prefix}plan:{plan}:q"

    def tat(self, plan: str) -> str:
        return f"{self.prefix}plan:{plan}:tat"

    def dead(self, plan: str) -> str:
        return f"{self.prefix}plan:{plan}:dead"

    @property
    def campaigns(self) -> str:
        """The prefix of a campaign's hash (the scripts append the name)."""
        return f"{self.prefix}c:"

    def campaign(self, name: str) -> str:
        return f"{self.campaigns}{name}"

    def outcomes(self, name: str) -> str:
        return f"{self.campaign(name)}:out"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _get(fields: Fields, key: str) -> str:
    value = fields.get(key)
    if value is None:
        raise ValueError(f"broker entry without {key!r}")
    return value


# -- batches ----------------------------------------------------------------------
def encode_batch(batch: Batch) -> dict[str, str]:
    """A batch as a stream entry: numbers joined by commas, or rows with their values."""
    rs = batch.recipients
    if isinstance(rs, Numbers) or all(r.params is None for r in rs):
        body = ",".join(batch.numbers)
        return {"c": batch.campaign, "s": str(batch.seq), "n": str(batch.size), "r": body}
    rows = [[r.msisdn, dict(r.params) if r.params else None] for r in rs]
    return {"c": batch.campaign, "s": str(batch.seq), "n": str(batch.size), "j": orjson.dumps(rows).decode()}


def decode_batch(fields: Fields) -> Batch:
    campaign, seq = _get(fields, "c"), int(_get(fields, "s"))
    if "r" in fields:
        return Batch(campaign, seq, Numbers(_get(fields, "r").split(",")))
    rows = orjson.loads(_get(fields, "j"))
    return Batch(campaign, seq, tuple(Recipient(m, p, 0) for m, p in rows))


# -- campaigns --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CampaignMeta:
    """What a worker needs of a campaign besides its batches."""

    name: str
    plan: str
    message: Message
    resend_unknown: bool = False
    #: which campaign of this name (the journal's id and creation time): one name, one campaign
    epoch: str = ""


def encode_meta(meta: CampaignMeta) -> dict[str, str]:
    m = meta.message
    message = {"body": m.body, "sender": m.sender, "defaults": dict(m.defaults),
               "delivery_report": m.delivery_report.value, "send_at": m.send_at, "expire_at": m.expire_at,
               "callback_url": m.callback_url, "max_parts": m.max_parts}
    return {"name": meta.name, "plan": meta.plan, "message": orjson.dumps(message).decode(),
            "resend_unknown": "1" if meta.resend_unknown else "0", "epoch": meta.epoch}


def decode_meta(fields: Fields) -> CampaignMeta:
    m = orjson.loads(_get(fields, "message"))
    message = Message(m["body"], m["sender"], m["defaults"] or {}, DeliveryReport(m["delivery_report"]),
                      m["send_at"], m["expire_at"], m["callback_url"], m["max_parts"])
    return CampaignMeta(_get(fields, "name"), _get(fields, "plan"), message, _get(fields, "resend_unknown") == "1",
                        fields.get("epoch", ""))


# -- outcomes ---------------------------------------------------------------------
RESULT = "result"    # the provider's answer (or unknown): recorded
SKIPPED = "skipped"  # never sent (the campaign stopped): goes back to be sent
REFUSED = "refused"  # the provider refused the campaign: it stops, exit 3
STOP = "stop"        # the provider is out of reach: the campaign stops, resumable


@dataclass(frozen=True, slots=True)
class Report:
    """A worker's word on one batch, for its submitter."""

    seq: int
    kind: str
    result: BatchResult | None = None
    attempts: int = 0
    requests: int = 0
    retries: int = 0
    lookups: int = 0
    reason: str = ""
    errors: tuple[str, ...] = field(default=())


def _outcome(o: Outcome) -> list[str]:
    return [o.status.value, o.provider_id, o.code, o.text]


def encode_report(report: Report) -> dict[str, str]:
    out = {"k": report.kind, "s": str(report.seq), "a": str(report.attempts), "rq": str(report.requests),
           "rt": str(report.retries), "lk": str(report.lookups), "why": report.reason}
    if report.errors:
        out["err"] = orjson.dumps(list(report.errors)).decode()
    r = report.result
    if r is not None:
        o = r.outcome
        out.update(st=o.status.value, pid=o.provider_id, code=o.code, text=o.text)
        if r.per_recipient is not None:
            out["pr"] = orjson.dumps({k: _outcome(v) for k, v in r.per_recipient.items()}).decode()
    return out


def decode_report(fields: Fields) -> Report:
    def opt(key: str, default: str = "") -> str:
        return fields.get(key, default)

    result = None
    if opt("st"):
        outcome = Outcome(Status(opt("st")), opt("pid"), opt("code"), opt("text"))
        per = None
        if opt("pr"):
            per = {k: Outcome(Status(v[0]), v[1], v[2], v[3]) for k, v in orjson.loads(opt("pr")).items()}
        result = BatchResult(outcome, per)
    errors: Sequence[str] = orjson.loads(opt("err")) if opt("err") else ()
    return Report(int(opt("s")), opt("k", RESULT), result, int(opt("a", "0")), int(opt("rq", "0")),
                  int(opt("rt", "0")), int(opt("lk", "0")), opt("why"), tuple(errors))


def field_list(fields: Mapping[str, str]) -> list[str]:
    """Field/value pairs flattened, as a script's ARGV wants them."""
    out: list[str] = []
    for k, v in fields.items():
        out += [k, v]
    return out


def as_dict(pairs: Sequence[Any]) -> dict[str, str]:
    """A flat ``[k, v, k, v…]`` reply from a script as a dict of text."""
    return {_text(pairs[i]): _text(pairs[i + 1]) for i in range(0, len(pairs), 2)}
