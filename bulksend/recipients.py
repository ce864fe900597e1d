"""Where recipient lists were read before ``bulksend.lists``; kept so old imports work."""

from bulksend.lists.sources import (
    BLOCK,
    FORMATS,
    NUMBER_COLUMNS,
    SEND_BLOCK,
    Block,
    Item,
    RecipientSource,
    count_lines,
    default_rejects_path,
    load_numbers,
    open_text,
    peek_columns,
    read_blocks,
    read_recipients,
)

__all__ = [
    "BLOCK", "FORMATS", "NUMBER_COLUMNS", "SEND_BLOCK", "Block", "Item", "RecipientSource", "count_lines",
    "default_rejects_path", "load_numbers", "open_text", "peek_columns", "read_blocks", "read_recipients",
]
