"""``bulksend report``: one row per recipient, as CSV or as call detail records.

CSV columns: ``msisdn,status,batch_id,provider_id,code,attempts,sent_at,delivery``.
``status`` is ``accepted``, ``failed``, ``unknown``, ``in_flight``,
``pending`` (not sent yet) or ``cancelled``; ``batch_id`` is the provider's
id for the recipient's batch (as in ``send --results``) and ``provider_id``
the recipient's own id where the provider gives one per recipient (else the
batch's); ``sent_at`` is when the batch's request was first made, UTC.
``delivery`` is what became of the message at the handset, as far as
``bulksend track`` or ``listen`` learned it: ``delivered``, ``failed``,
``expired``, ``rejected``, ``aborted``, ``unknown``, or ``pending`` for an
accepted recipient with no final status yet; empty for one never accepted.
It is read from the delivery tables by a function the caller passes
(``delivery``), since they belong to a package above this one.

``--format cdr`` writes the semicolon-delimited call detail record layout
of Sinch's CDR files (``ApplicationKey;UserSpaceId;Timestamp;Result;From;
To;Amount``):

* ApplicationKey: the plan's non-secret id (the XMS ``service_plan_id``;
  the plan's name for providers without one). Never a token.
* UserSpaceId: the campaign's number in the journal.
* Timestamp: ``sent_at``; empty for a recipient never sent.
* Result: accepted → Successful; pending or in flight → Pending; failed or
  cancelled → Faulted; unknown → Unknown.
* Amount: what the recipient's message may have cost: its parts (counted
  from the rendered body) times ``--price`` per part when given, else the
  parts; 0 for a recipient that was not accepted (failed, cancelled, not
  sent), the parts for unknown (it may have been charged).

Rows are written a page at a time on the journal's thread, so a ten-million
row report neither blocks an event loop nor holds the campaign in memory.
"""

from __future__ import annotations

import csv
import sqlite3
import sys
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import IO, Any

import orjson

from bulksend.core.estimate import BodyMeter
from bulksend.core.templates import placeholders, render
from bulksend.errors import InputError, TemplateError
from bulksend.journal import store
from bulksend.journal.journal import Journal
from bulksend.outputs import check_outputs, create_private, journal_files
from bulksend.journal.records import (
    BATCHED,
    NEW,
    RECIPIENT_STATUS,
    CampaignRecord,
    CampaignState,
    iso_utc,
)

CSV_HEADER = ("msisdn", "status", "batch_id", "provider_id", "code", "attempts", "sent_at", "delivery")
CDR_HEADER = ("ApplicationKey", "UserSpaceId", "Timestamp", "Result", "From", "To", "Amount")
FORMATS = ("csv", "cdr")
PAGE = 10_000

#: (the journal's connection, campaign name, numbers) -> the stored delivery status of those that have one
DeliveryStatuses = Callable[[sqlite3.Connection, str, Sequence[str]], Mapping[str, str]]

_CDR_RESULT = {"accepted": "Successful", "pending": "Pending", "in_flight": "Pending", "failed": "Faulted",
               "cancelled": "Faulted", "unknown": "Unknown", "returned": "Pending"}


def row_status(r_state: int, b_state: str | None, campaign_cancelled: bool) -> str:
    """What became of one recipient, from its row and its batch's."""
    if r_state == NEW:
        return "cancelled" if campaign_cancelled else "pending"
    if r_state == BATCHED:
        status = b_state or "pending"
        return "pending" if status == "returned" else status
    return RECIPIENT_STATUS.get(r_state, "unknown")


def cdr_result(status: str) -> str:
    return _CDR_RESULT.get(status, "Unknown")


def cdr_amount(status: str, parts: int, price: Decimal | None) -> str:
    charged = parts if status in ("accepted", "unknown") else 0
    if price is None:
        return str(charged)
    return str(price * charged)


class ReportWriter:
    """Writes one campaign's report, ``step`` by ``step`` on the journal's thread."""

    def __init__(self, campaign: CampaignRecord, out: str, fmt: str = "csv",
                 price: Decimal | None = None, page: int = PAGE, delivery: DeliveryStatuses | None = None,
                 force: bool = False) -> None:
        if fmt not in FORMATS:
            raise InputError(f"report format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        self.campaign = campaign
        self.out = out
        self.fmt = fmt
        self.price = price
        self.page = page
        self.force = force
        self.rows = 0
        self.done = False
        self._after = campaign.first_id - 1
        self._file: IO[str] | None = None
        self._writer: Any = None
        self._cancelled = campaign.state is CampaignState.CANCELLED
        self._meter = BodyMeter()
        self._templated = bool(placeholders(campaign.message.body))
        self._key = campaign.target.account or campaign.target.plan
        self._delivery = delivery
        self._delivered: Mapping[str, str] = {}

    def step(self, conn: sqlite3.Connection) -> bool:
        if self._writer is None:
            self._open()
        rows = store.report_page(conn, self.campaign.id, self._after, self.page)
        if not rows:
            self.close()
            self.done = True
            return True
        self._after = rows[-1][0]
        if self._delivery is not None and self.fmt == "csv":
            self._delivered = self._delivery(conn, self.campaign.name, [str(r[1]) for r in rows])
        self._writer.writerows(self._format(r) for r in rows)
        self.rows += len(rows)
        return False

    def _open(self) -> None:
        if self.out == "-":
            self._file = sys.stdout
        else:
            try:
                self._file = create_private(self.out, self.force)  # 0600: it holds phone numbers
            except OSError as exc:
                raise InputError(f"{self.out}: cannot write the report: {exc.strerror}") from None
        delimiter = ";" if self.fmt == "cdr" else ","
        self._writer = csv.writer(self._file, delimiter=delimiter, lineterminator="\n")
        self._writer.writerow(CDR_HEADER if self.fmt == "cdr" else CSV_HEADER)

    def close(self) -> None:
        stream, self._file = self._file, None
        if stream is None:
            return
        if stream is sys.stdout:
            stream.flush()
        else:
            stream.close()

    def _format(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        _id, msisdn, r_state, _seq, r_pid, r_code, params, b_state, b_pid, b_code, attempts, sent_at = row
        status = row_status(r_state, b_state, self._cancelled)
        if r_state == NEW:
            attempts, sent_at, b_pid = 0, None, None
        if self.fmt == "csv":
            delivery = self._delivered.get(str(msisdn)) or ("pending" if status == "accepted" else "")
            return (msisdn, status, b_pid or "", r_pid or b_pid or "", r_code or b_code or "",
                    attempts or 0, iso_utc(sent_at), delivery)
        return (self._key, self.campaign.id, iso_utc(sent_at), cdr_result(status),
                self.campaign.message.sender or "", msisdn,
                cdr_amount(status, self._parts(params), self.price))

    def _parts(self, params: str | None) -> int:
        body = self.campaign.message.body
        if self._templated:
            try:
                body = render(body, orjson.loads(params) if params else None, self.campaign.message.defaults)
            except TemplateError:
                return 1
        return max(1, self._meter.measure(body)[0].segments)


async def write_report(journal: Journal, name: str, out: str, fmt: str = "csv",
                       price: Decimal | None = None, delivery: DeliveryStatuses | None = None,
                       force: bool = False) -> int:
    """Write campaign ``name``'s report to ``out`` (``-``: stdout); returns the row count.

    ``delivery`` fills the ``delivery`` column (without it: ``pending`` for every
    accepted recipient). ``out`` is never the journal, and an existing file is
    refused unless ``force``.
    """
    check_outputs({"--out": out}, journal_files(journal.path), force=force)
    campaign = await journal.campaign(name)
    if campaign is None:
        known = ", ".join(c.name for c in await journal.campaigns()) or "none"
        raise InputError(f"no campaign named {name!r} in journal {journal.path} (campaigns: {known})")
    writer = ReportWriter(campaign, out, fmt, price, delivery=delivery, force=force)
    try:
        while not writer.done:
            await journal.call(writer.step)
    finally:
        if not writer.done:
            await journal.call(lambda conn: writer.close())
    return writer.rows
