"""The plain baseline: what a user would write by hand with aiohttp.

csv + json + asyncio.Semaphore, one POST per batch to a Sinch-XMS-style
endpoint. No rate limit, no retries, no dedup, no journal. Prints one JSON
line: recipients, requests, elapsed_s, rate, requests_per_s.

    python benchmarks/baseline_aiohttp.py --url http://127.0.0.1:8080 \
        --recipients numbers.csv --batch 200 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import time

import aiohttp


async def main(args: argparse.Namespace) -> dict[str, float]:
    url = f"{args.url}/xms/v1/{args.plan}/batches"
    headers = {"Authorization": "Bearer sandbox", "Content-Type": "application/json"}
    sem = asyncio.Semaphore(args.concurrency)
    sent = requests = 0
    tasks: set[asyncio.Task[None]] = set()

    async def post(session: aiohttp.ClientSession, numbers: list[str]) -> None:
        nonlocal sent, requests
        try:
            body = json.dumps({"to": numbers, "body": args.message, "from": "Bench"})
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                requests += 1
                if resp.status == 201:
                    sent += len(numbers)
        finally:
            sem.release()

    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency)) as session:
        with open(args.recipients, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            next(reader)
            batch: list[str] = []
            for row in reader:
                batch.append(row[0].lstrip("+"))
                if len(batch) == args.batch:
                    await sem.acquire()
                    task = asyncio.create_task(post(session, batch))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    batch = []
            if batch:
                await sem.acquire()
                tasks.add(asyncio.create_task(post(session, batch)))
            await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    return {"recipients": sent, "requests": requests, "elapsed_s": round(elapsed, 3),
            "rate": round(sent / elapsed, 1), "requests_per_s": round(requests / elapsed, 1)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--plan", default="bench")
    parser.add_argument("--recipients", required=True)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--message", default="Hello from the benchmark")
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
