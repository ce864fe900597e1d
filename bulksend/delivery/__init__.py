"""Delivery tracking: what became of accepted messages.

Reports arrive by callback (``bulksend.webhooks``, ``bulksend listen``) or by
polling (``tracker``, ``bulksend track``) and are kept in a ``DeliveryStore``;
``delivery_summary`` turns them into delivered / failed / pending counts and
the accepted → delivered latency distribution.
"""

from bulksend.delivery.ledger import DeliveryLedger
from bulksend.delivery.model import DeliveryStatus, Inbound, Report, Sent
from bulksend.delivery.optout import opt_out_keyword
from bulksend.delivery.resolve import ProviderIdLookup, Ref, Resolver
from bulksend.delivery.store import DeliveryStore, SqliteDeliveryStore
from bulksend.delivery.summary import delivery_summary, format_delivery

__all__ = [
    "DeliveryLedger", "DeliveryStatus", "DeliveryStore", "Inbound", "ProviderIdLookup", "Ref", "Report",
    "Resolver", "Sent", "SqliteDeliveryStore", "delivery_summary", "format_delivery", "opt_out_keyword",
]
