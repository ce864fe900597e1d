"""The broker: Redis streams and scripts, behind a few async calls.

The only module here that talks to Redis. A plan's batches are entries of
its stream, read by one consumer group (``workers``); a campaign has a hash
(its message, high-water mark and ``stop`` flag) and an outcomes stream
back to its submitter. Every call that must be atomic is one Lua script
(``scripts.py``), run by ``EVALSHA``.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bulksend.scaleout import scripts
from bulksend.scaleout.codec import (
    GROUP,
    CampaignMeta,
    Keys,
    Report,
    as_dict,
    decode_meta,
    encode_meta,
    encode_report,
    field_list,
)
from bulksend.scaleout.gcra import Pace

T = TypeVar("T")


async def through_outages(call: Callable[[], Awaitable[T]], give_up_after: float = 60.0,
                          on_retry: Callable[[Exception], None] | None = None) -> T:
    """``call()``, again while Redis cannot be reached (a restart), for ``give_up_after`` seconds.

    Every script here may be run twice safely: SUBMIT and FINISH check
    before they write, so a reply lost to a broken connection costs nothing.
    """
    deadline = time.monotonic() + give_up_after
    pause = 0.05
    while True:
        try:
            return await call()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            if time.monotonic() > deadline:
                raise
            if on_retry is not None:
                on_retry(exc)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)


@dataclass(frozen=True, slots=True)
class Taken:
    """An entry a worker took: its id, fields, and how long to wait (µs), -1 if its campaign stopped."""

    id: str
    fields: dict[str, str]
    wait_us: int
    deliveries: int = 1


class Broker:
    """One connection pool to Redis and the scripts loaded on it."""

    def __init__(self, redis: Redis, keys: Keys = Keys()) -> None:
        self.redis = redis
        self.keys = keys
        self._scripts = {name: redis.register_script(getattr(scripts, name))
                         for name in ("BOOK", "TAKE", "SUBMIT", "FINISH", "RENEW", "RECLAIM")}
        #: round trips made by script, for the metrics ("calls a batch")
        self.calls: Counter[str] = Counter()

    @classmethod
    def connect(cls, url: str, keys: Keys = Keys()) -> Broker:
        return cls(Redis.from_url(url), keys)

    async def close(self) -> None:
        await self.redis.aclose()

    async def _run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        self.calls[name] += 1
        return await self._scripts[name](keys=list(keys), args=list(args))

    # -- set-up --------------------------------------------------------------------
    async def ensure_group(self, plan: str) -> None:
        try:
            await self.redis.xgroup_create(self.keys.stream(plan), GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    # -- the shared rate -----------------------------------------------------------
    async def book(self, plan: str, pace: Pace, cost: int, now_us: int | None = None) -> int:
        """Book ``cost`` recipients on the plan's rate; the wait in µs."""
        wait: int = await self._run("BOOK", [self.keys.tat(plan)],
                                    [cost, pace.rate, pace.burst, "" if now_us is None else now_us])
        return int(wait)

    async def take(self, plan: str, consumer: str, pace: Pace, now_us: int | None = None) -> Taken | None:
        """The plan's next entry for ``consumer``, booked; None when the stream has none."""
        got = await self._run("TAKE", [self.keys.stream(plan), self.keys.tat(plan)],
                              [GROUP, consumer, pace.rate, pace.burst, self.keys.campaigns,
                               "" if now_us is None else now_us])
        if not got:
            return None
        return Taken(_str(got[0]), as_dict(got[1]), int(got[2]))

    # -- workers: leases -----------------------------------------------------------
    async def finish(self, plan: str, campaign: str, entry_id: str, report: Report) -> bool:
        """Publish ``report``, acknowledge and delete the entry; False if another did first."""
        done = await self._run("FINISH", [self.keys.stream(plan), self.keys.outcomes(campaign)],
                               [GROUP, entry_id, *field_list(encode_report(report))])
        return bool(done)

    async def renew(self, plan: str, consumer: str, entry_id: str) -> bool:
        """Reset the entry's idle time while ``consumer`` holds it; False if it was taken over."""
        return bool(await self._run("RENEW", [self.keys.stream(plan)], [GROUP, consumer, entry_id]))

    async def reclaim(self, plan: str, consumer: str, lease_ms: int, max_deliveries: int,
                      count: int = 16) -> list[Taken]:
        """Entries idle past ``lease_ms`` (their worker died), now ``consumer``'s."""
        got = await self._run("RECLAIM", [self.keys.stream(plan), self.keys.dead(plan)],
                              [GROUP, consumer, lease_ms, count, max_deliveries, self.keys.campaigns])
        return [Taken(_str(e[0]), as_dict(e[1]), -2, int(e[2])) for e in got]

    # -- campaigns -----------------------------------------------------------------
    async def claim(self, name: str, epoch: str | None) -> None:
        """Make the name this campaign's (``epoch``; None: a campaign not created yet).

        Another campaign of the same name (another journal's) is cleared
        away when nothing of it is left in its plan's stream, and refused
        otherwise: its outcomes would be taken for this one's.
        """
        found = await self.campaign(name)
        if found is None or (epoch is not None and found[0].epoch == epoch):
            return
        if await self.pending_of(found[0].plan, name):
            from bulksend.errors import InputError

            raise InputError(f"another campaign named {name!r} (from another journal) still has batches in "
                             "Redis; campaign names must be unique per broker: choose another --campaign")
        await self.drop_campaign(name)

    async def open_campaign(self, meta: CampaignMeta) -> int:
        """Record the campaign (or find it again): its high-water mark, -1 when new."""
        key = self.keys.campaign(meta.name)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(key, mapping=encode_meta(meta))  # type: ignore[arg-type]
        pipe.hset(key, "stop", "0")
        pipe.hget(key, "hwm")
        got = await pipe.execute()
        await self.ensure_group(meta.plan)
        return int(got[2]) if got[2] is not None else -1

    async def campaign(self, name: str) -> tuple[CampaignMeta, int] | None:
        raw = await self.redis.hgetall(self.keys.campaign(name))  # type: ignore[misc]
        if not raw:
            return None
        fields = {_str(k): _str(v) for k, v in raw.items()}
        return decode_meta(fields), int(fields.get("hwm", "-1"))

    async def stop_campaign(self, name: str) -> None:
        await self.redis.hset(self.keys.campaign(name), "stop", "1")  # type: ignore[misc]

    async def drop_campaign(self, name: str) -> None:
        await self.redis.delete(self.keys.campaign(name), self.keys.outcomes(name))

    async def submit(self, plan: str, campaign: str, seq: int, fields: Mapping[str, str]) -> int:
        """XADD the batch and raise the campaign's high-water mark, at once; the stream's length."""
        length = await self._run("SUBMIT", [self.keys.stream(plan), self.keys.campaign(campaign)],
                                 [seq, *field_list(fields)])
        return int(length)

    async def backlog(self, plan: str) -> int:
        """Entries in the plan's stream not finished yet (finished ones are deleted)."""
        return int(await self.redis.xlen(self.keys.stream(plan)))

    async def outcomes(self, campaign: str, after: str, block_ms: int | None, count: int = 256
                       ) -> list[tuple[str, dict[str, str]]]:
        got: Any = await self.redis.xread({self.keys.outcomes(campaign): after}, count=count, block=block_ms)
        if not got:
            return []
        return [(_str(i), {_str(k): _str(v) for k, v in f.items()}) for i, f in got[0][1]]

    async def forget_outcomes(self, campaign: str, before: str) -> None:
        """Trim outcomes older than entry id ``before`` (the journal has them by now)."""
        await self.redis.xtrim(self.keys.outcomes(campaign), minid=before, approximate=False)

    async def pending_of(self, plan: str, campaign: str) -> set[int]:
        """Seqs of ``campaign`` still in the plan's stream (waiting or being sent)."""
        seqs: set[int] = set()
        start = "-"
        while True:
            rows: Any = await self.redis.xrange(self.keys.stream(plan), min=start, count=1000)
            for entry_id, fields in rows:
                f = {_str(k): _str(v) for k, v in fields.items()}
                if f.get("c") == campaign:
                    seqs.add(int(f["s"]))
            if len(rows) < 1000:
                return seqs
            start = "(" + _str(rows[-1][0])


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
