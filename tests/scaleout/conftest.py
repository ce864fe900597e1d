"""Fixtures of the scale-out tests: a real redis-server, a broker on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bulksend.scaleout.broker import Broker
from bulksend.scaleout.codec import Keys
from tests.scaleout.redis_server import RedisServer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory)
    server.start()
    yield server
    server.stop(kill=True)


@pytest.fixture
async def broker(redis_server: RedisServer) -> AsyncIterator[Broker]:
    b = Broker.connect(redis_server.url, Keys("test:"))
    yield b
    await b.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every scale-out test is bounded: 60 s at most, whatever happens to Redis or a worker."""
    for item in items:
        if "tests/scaleout/" in item.nodeid:
            item.add_marker(pytest.mark.timeout(60))
