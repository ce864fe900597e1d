"""``bulksend report``: one row per recipient of a campaign, CSV or CDR."""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal, InvalidOperation
from typing import Any

from bulksend.cli.render import report_written
from bulksend.cli.runs import add_force, add_journal, optional_config, settings_for
from bulksend.errors import InputError
from bulksend.cli.common import run_loop

#: the layouts ``bulksend.campaigns.report`` writes (a test checks they are its FORMATS)
FORMATS = ("csv", "cdr")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "report", help="write a campaign's per-recipient report",
        description="Write one row per recipient: msisdn,status,batch_id,provider_id,code,attempts,sent_at,"
                    "delivery (CSV; delivery as 'bulksend track' or 'listen' learned it), or Sinch's "
                    "semicolon-delimited call detail record layout (--format cdr).")
    p.add_argument("campaign", help="the campaign's name")
    p.add_argument("--out", "-o", required=True, metavar="FILE", help="where to write it; - for stdout")
    p.add_argument("--format", choices=FORMATS, default="csv",
                   help="csv (one row per recipient, default) or cdr (Sinch's call detail records)")
    p.add_argument("--price", metavar="AMOUNT",
                   help="price of one message part, for the CDR Amount (default: Amount is the parts)")
    p.add_argument("--config", "-c", metavar="FILE",
                   help="config whose [journal] path to use (default: $BULKSEND_CONFIG, else ./bulksend.toml)")
    add_journal(p)
    add_force(p)
    p.set_defaults(func=run)


async def _report(args: argparse.Namespace, path: str, price: Decimal | None) -> int:
    from bulksend.campaigns.report import write_report
    from bulksend.delivery.store import statuses_on
    from bulksend.journal import Journal
    from bulksend.outputs import check_outputs, journal_files

    check_outputs({"--out": args.out}, [*journal_files(path), args.config], force=args.force)
    async with await Journal.open(path, readonly=True) as journal:
        return await write_report(journal, args.campaign, args.out, args.format, price, delivery=statuses_on,
                                  force=args.force)


def run(args: argparse.Namespace) -> int:
    price = None
    if args.price is not None:
        try:
            price = Decimal(args.price)
        except InvalidOperation:
            raise InputError(f"--price {args.price!r}: not a number") from None
    settings = settings_for(args, optional_config(args))
    rows = run_loop(_report(args, settings.path, price))
    if args.out != "-":
        print(report_written(rows, args.out), file=sys.stderr)
    return 0
