"""Cutting a stream of recipients into batches of at most ``size``."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def effective_batch_size(requested: int, provider_limit: int) -> int:
    """The batch size to use: what was asked, never above the provider's limit."""
    if requested < 1:
        raise ValueError("max_batch must be at least 1")
    return min(requested, provider_limit)


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Yield lists of ``size`` items (the last may be shorter), lazily."""
    if size < 1:
        raise ValueError("size must be at least 1")
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def achunked(items: AsyncIterable[T], size: int) -> AsyncIterator[list[T]]:
    """The async twin of ``chunked``."""
    if size < 1:
        raise ValueError("size must be at least 1")
    chunk: list[T] = []
    async for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
