"""Queue benchmark (issue 7): no-op jobs through one and two `neuroedge runtime worker` processes, each beside
the raw Redis ceiling measured in the same run by a minimal XADD / XREADGROUP / XACK loop with the same
batch size.

- Throughput: N jobs appear in the stream at once (one MULTI/EXEC), consumers already waiting; jobs/s is
  N / (last finish - first start), from the job hashes (queue) or the consumer's own clock (raw).
- Latency: jobs enqueued one at a time at a steady pace (the queue not saturated); enqueue-to-start time per
  job, p50 and p99. For the raw loop: XADD of a timestamp to its receipt by XREADGROUP.

Needs REDIS_URL. `python bench/bench_queue.py` prints one JSON result per line (contract in bench/run.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import redis.asyncio as aioredis

from neuroedge_queue import keys, producer

JOBS = int(os.environ.get("BENCH_QUEUE_JOBS", "20000"))
LATENCY_JOBS = int(os.environ.get("BENCH_QUEUE_LATENCY_JOBS", "1000"))
PACE = 0.002
"""Seconds between two enqueues of the latency run."""
CONCURRENCY = 256
BATCH = 256
TENANT = "bench"
NEUROEDGE_RUNTIME = Path(sys.executable).parent / "neuroedge-runtime"


def result(name: str, value: float, unit: str, baseline_name: str, baseline_value: float) -> None:
    print(
        json.dumps(
            {
                "name": name,
                "value": round(value, 3),
                "unit": unit,
                "baseline_name": baseline_name,
                "baseline_value": round(baseline_value, 3),
            }
        ),
        flush=True,
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---------------------------------------------------------------- raw ceiling: a minimal consumer process


async def raw_consumer(url: str, stream: str, name: str, total: int, mode: str) -> None:
    """XREADGROUP COUNT BATCH BLOCK + one XACK per batch, until `total` entries (shared by all consumers,
    tracked with a counter key) were consumed; prints first-read, last-ack and latencies as JSON."""
    client = aioredis.Redis.from_url(url)
    counter = stream + ":done"
    first = last = 0.0
    latencies: list[float] = []
    while int(await client.get(counter) or 0) < total:
        reply = await client.xreadgroup("pool", name, {stream: ">"}, count=BATCH, block=200)
        if not reply:
            continue
        now = time.time()
        entries = reply[0][1]
        first = first or now
        if mode == "latency":
            latencies.extend(now - float(fields[b"t"]) for _, fields in entries)
        async with client.pipeline(transaction=False) as pipe:
            pipe.xack(stream, "pool", *[entry_id for entry_id, _ in entries])
            pipe.incrby(counter, len(entries))
            await pipe.execute()
        last = time.time()
    print(json.dumps({"first": first, "last": last, "latencies": latencies}), flush=True)
    await client.aclose()


# ---------------------------------------------------------------- helpers shared by both sides


async def blocked_clients(client: aioredis.Redis) -> int:
    return int((await client.info("clients"))["blocked_clients"])


async def wait_for_consumers(client: aioredis.Redis, count: int, before: int) -> None:
    """Wait until `count` more clients are blocked (in XREADGROUP) than `before`: the consumers are waiting.
    (Redis 7.0 creates a consumer only once a read returns something, so XINFO CONSUMERS cannot tell.)"""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if await blocked_clients(client) >= before + count:
            await asyncio.sleep(0.1)
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{count} consumers did not start waiting")


def start_workers(url: str, pool: str, count: int) -> list[subprocess.Popen[bytes]]:
    procs = []
    for index in range(count):
        env = {
            **os.environ,
            "REDIS_URL": url,
            "NEUROEDGE_TENANT": TENANT,
            "NEUROEDGE_POOL": pool,
            "NEUROEDGE_CONSUMER": f"{pool}-{index}",
            "NEUROEDGE_CONCURRENCY": str(CONCURRENCY),
            "NEUROEDGE_BATCH": str(BATCH),
            "NEUROEDGE_METRICS_PORT": "0",
            "NEUROEDGE_LOG_LEVEL": "WARNING",
        }
        procs.append(subprocess.Popen([str(NEUROEDGE_RUNTIME), "worker"], env=env))
    return procs


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.wait(timeout=30)


async def job_times(client: aioredis.Redis, queue_keys: keys.QueueKeys, ids: list[str]) -> list[list[float]]:
    rows: list[list[float]] = []
    for chunk in range(0, len(ids), 2000):
        async with client.pipeline(transaction=False) as pipe:
            for job_id in ids[chunk : chunk + 2000]:
                pipe.hmget(queue_keys.job(job_id), "status", "enqueued_at", "started_at", "finished_at")
            for status, *times in await pipe.execute():
                if status != b"succeeded":
                    raise RuntimeError(f"a job ended {status!r}")
                rows.append([float(t) for t in times])
    return rows


async def wait_drained(client: aioredis.Redis, stream: str) -> None:
    """Settled entries are deleted: an empty stream means every job finished."""
    while await client.xlen(stream) > 0:  # noqa: ASYNC110 - polling another process's progress
        await asyncio.sleep(0.01)


# ---------------------------------------------------------------- the two sides


async def queue_run(url: str, workers: int) -> tuple[float, float, float]:
    """(jobs/s, p50 ms, p99 ms) through `workers` worker processes."""
    client = aioredis.Redis.from_url(url)
    pool = f"w{workers}-{os.getpid()}"
    queue_keys = keys.QueueKeys(TENANT, pool)
    produce = producer.Producer(client, queue_keys, result_ttl=600)
    before = await blocked_clients(client)
    procs = start_workers(url, pool, workers)
    try:
        await wait_for_consumers(client, workers, before)
        # Throughput: the whole backlog appears at once, in one transaction.
        calls = [produce.call_for(producer.JobRequest("noop"), time.time()) for _ in range(JOBS)]
        await client.script_load(producer.ENQUEUE.source)  # raw EVALSHAs below have no NOSCRIPT fallback
        async with client.pipeline(transaction=True) as pipe:
            for call_keys, args in calls:
                pipe.evalsha(producer.ENQUEUE.sha, len(call_keys), *call_keys, *args)
            await pipe.execute()
        await wait_drained(client, queue_keys.stream)
        times = await job_times(client, queue_keys, [str(args[0]) for _, args in calls])
        rate = JOBS / (max(t[2] for t in times) - min(t[1] for t in times))
        # Latency: one job at a time, paced.
        ids = []
        for _ in range(LATENCY_JOBS):
            ids.append((await produce.enqueue(producer.JobRequest("noop"))).job_id)
            await asyncio.sleep(PACE)
        await wait_drained(client, queue_keys.stream)
        waits = [(t[1] - t[0]) * 1000 for t in await job_times(client, queue_keys, ids)]
    finally:
        stop(procs)
        await client.aclose()
    return rate, statistics.median(waits), percentile(waits, 0.99)


async def raw_run(url: str, consumers: int) -> tuple[float, float, float]:
    """The same two measurements with the minimal loop."""
    client = aioredis.Redis.from_url(url)
    stream = f"ne:{TENANT}:{{raw{consumers}-{os.getpid()}}}:stream"
    await client.xgroup_create(stream, "pool", id="0", mkstream=True)
    outputs = []
    for mode, total in (("throughput", JOBS), ("latency", LATENCY_JOBS)):
        await client.set(stream + ":done", 0)
        names = [f"raw-{mode}-{i}" for i in range(consumers)]
        before = await blocked_clients(client)
        procs = [
            subprocess.Popen(  # noqa: ASYNC220 - starting, not waiting
                [sys.executable, __file__, "--raw-consumer", url, stream, name, str(total), mode],
                stdout=subprocess.PIPE,
            )
            for name in names
        ]
        try:
            await wait_for_consumers(client, consumers, before)
            if mode == "throughput":
                async with client.pipeline(transaction=True) as pipe:
                    for _ in range(total):
                        pipe.xadd(stream, {"job": b'{"engine":"noop"}'})
                    await pipe.execute()
            else:
                for _ in range(total):
                    await client.xadd(stream, {"t": repr(time.time())})
                    await asyncio.sleep(PACE)
            outputs.append([json.loads(proc.communicate(timeout=120)[0]) for proc in procs])
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    await client.delete(stream, stream + ":done")
    await client.aclose()
    through = [o for o in outputs[0] if o["first"]]
    rate = JOBS / (max(o["last"] for o in through) - min(o["first"] for o in through))
    waits = [lat * 1000 for o in outputs[1] for lat in o["latencies"]]
    return rate, statistics.median(waits), percentile(waits, 0.99)


async def main() -> None:
    url = os.environ["REDIS_URL"]
    print(f"{JOBS} no-op jobs for throughput, {LATENCY_JOBS} jobs {PACE * 1000:g} ms apart for latency")
    load = os.getloadavg()[0]
    print(
        f"concurrency {CONCURRENCY}, batch {BATCH}; machine: {os.cpu_count()} CPUs, load average {load:.1f}"
    )
    for count in (1, 2):
        raw_rate, raw_p50, raw_p99 = await raw_run(url, count)
        rate, p50, p99 = await queue_run(url, count)
        label = f"{count}_worker" + ("s" if count > 1 else "")
        base = f"raw_redis_{count}_consumer" + ("s" if count > 1 else "")
        result(f"queue_noop_jobs_per_s_{label}", rate, "jobs/s", base + "_jobs_per_s", raw_rate)
        result(f"queue_enqueue_to_start_p50_{label}", p50, "ms", base + "_xadd_to_read_p50", raw_p50)
        result(f"queue_enqueue_to_start_p99_{label}", p99, "ms", base + "_xadd_to_read_p99", raw_p99)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--raw-consumer":
        _, _, raw_url, raw_stream, raw_name, raw_total, raw_mode = sys.argv
        asyncio.run(raw_consumer(raw_url, raw_stream, raw_name, int(raw_total), raw_mode))
    else:
        asyncio.run(main())
