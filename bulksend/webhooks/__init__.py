"""The webhook receiver (``bulksend listen``): pure parse/verify codecs and the aiohttp app."""

from bulksend.serving import ServeLimits
from bulksend.webhooks.app import (
    RunningListener,
    build_listener,
    listening,
    serve_listener,
)

__all__ = ["RunningListener", "ServeLimits", "build_listener", "listening", "serve_listener"]
