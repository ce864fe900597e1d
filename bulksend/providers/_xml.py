"""Parsing XML from the network without trusting it (stdlib only).

``xml.etree`` on expat >= 2.4 already refuses the billion-laughs expansion
and never fetches external entities; on top of that ``parse_untrusted``
refuses any DTD at all (no ``<!DOCTYPE``, hence no entity declarations),
the way defusedxml does, so a hostile body cannot define entities or point
at files. A response from a provider never needs a DTD.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import xml.parsers.expat
from typing import Any, NoReturn

MAX_XML_BYTES = 4 * 1024 * 1024


class UnsafeXml(ValueError):
    """The body is not XML we are willing to read."""


def _forbid(*_args: Any) -> NoReturn:
    raise UnsafeXml("XML with a DTD or entity declarations is refused")


def parse_untrusted(body: bytes) -> ET.Element:
    """The root element of ``body``; ``UnsafeXml`` for a DTD, bad or oversize XML."""
    if len(body) > MAX_XML_BYTES:
        raise UnsafeXml(f"XML body over {MAX_XML_BYTES} bytes")
    builder = ET.TreeBuilder()
    expat = xml.parsers.expat.ParserCreate()
    expat.StartElementHandler = lambda tag, attrs: builder.start(tag, attrs)
    expat.EndElementHandler = builder.end
    expat.CharacterDataHandler = builder.data
    expat.StartDoctypeDeclHandler = _forbid
    expat.EntityDeclHandler = _forbid
    expat.UnparsedEntityDeclHandler = _forbid
    expat.ExternalEntityRefHandler = _forbid
    try:
        expat.Parse(body, True)
        return builder.close()
    except (xml.parsers.expat.ExpatError, AssertionError) as exc:
        raise UnsafeXml(f"invalid XML: {exc}") from None


def text_of(element: ET.Element, tag: str) -> str | None:
    """The stripped text of the first ``tag`` child, or None."""
    child = element.find(tag)
    if child is None or child.text is None:
        return None
    return child.text.strip()
