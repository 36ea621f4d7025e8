"""REST benchmark: an HTTP round trip to `aether serve` against the library called directly.

What it measures, in one run so that the ratios share the machine's state:

- latency per operation, `AsyncMemory` in this process against the same operation over
  HTTP to a server process (one keep-alive connection, an API key on every request):
  working.set, working.get, add_step, checkpoint save, recall (k=5 over a few hundred
  memories; the query is the same every time, so its embedding comes from the embedders'
  caches on both sides and the model's time is excluded). Two HTTP clients: ``httpx``
  (``AsyncClient``), what a Python caller typically uses, and a minimal HTTP/1.1 client on
  asyncio streams, which costs almost nothing itself and so shows the server's share;
- throughput with 1 and 16 concurrent clients (asyncio tasks sharing a connection pool of
  16): working get/set (alternating) and recall, for the library and for REST.

The sides are interleaved in chunks after a warm-up. The httpx column includes httpx's own
cost (it builds and parses every request in this process: several hundred µs here); the raw
column is the wire plus the server (uvicorn, FastAPI routing, dependencies and validation,
auth, JSON). The server is a separate process: on a small machine it competes with this one
and with Redis for the cores.

Run:
    python bench/bench_rest.py                    # starts a local Redis in a temp dir
    python bench/bench_rest.py --url redis://127.0.0.1:6379/0 --n 3000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from timing import Timing, no_gc

from aether_memory import AsyncMemory
from aether_memory.server.local import free_port

AsyncOp = Callable[[], Awaitable[Any]]

CHUNK = 50  # calls per side before switching to the other side
CORPUS = 300
CONCURRENCY = (1, 16)
WORKING_VALUE = {"goal": "ship the release", "step": 3, "tags": ["a", "b"]}
STEP = {"action": "search", "observation": {"hits": 3, "top": "doc-17"}, "reasoning": "look"}
STATE = {"messages": [{"role": "user", "content": "hello"}] * 4, "step": 12}
QUERY = "where does the user live now?"
AGENT, SESSION = "bench", "s1"


@dataclass
class Row:
    """One line of the latency table."""

    name: str
    lib: Timing
    raw: Timing
    rest: Timing


@dataclass
class Rate:
    """One line of the throughput table."""

    name: str
    clients: int
    lib: float
    raw: float
    rest: float


async def time_calls(fn: AsyncOp, count: int, out: list[int]) -> None:
    clock = time.perf_counter_ns
    for _ in range(count):
        start = clock()
        await fn()
        out.append(clock() - start)


async def compare(name: str, lib: AsyncOp, raw: AsyncOp, rest: AsyncOp, n: int) -> Row:
    """Warm every side up, then alternate chunks of `CHUNK` calls."""
    sides = (lib, raw, rest)
    for fn in sides:
        for _ in range(min(200, n)):
            await fn()
    timings: list[list[int]] = [[], [], []]
    with no_gc():
        done = 0
        while done < n:
            step = min(CHUNK, n - done)
            for fn, out in zip(sides, timings, strict=True):
                await time_calls(fn, step, out)
            done += step
    return Row(name, *(Timing(t) for t in timings))


async def rate(fn: Callable[[int], Awaitable[Any]], clients: int, seconds: float) -> float:
    """Operations per second with `clients` tasks calling `fn(i)` for `seconds`."""
    deadline = time.perf_counter() + seconds
    counts = [0] * clients

    async def worker(w: int) -> None:
        i = 0
        while time.perf_counter() < deadline:
            await fn(w * 1_000_000 + i)
            i += 1
        counts[w] = i

    start = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for w in range(clients):
            group.create_task(worker(w))
    return sum(counts) / (time.perf_counter() - start)


class RawHttp:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams, a pool of `size` connections.

    Only what this benchmark needs: JSON bodies, responses with Content-Length (or none, for
    204). Its own cost is a few µs, so its timings are the wire plus the server.
    """

    def __init__(self, base: str, prefix: str, key: str, size: int) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.addr = (host, int(port))
        self.prefix = prefix
        self.key = key
        self.size = size
        self.idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )

    async def open(self) -> None:
        for _ in range(self.size):
            self.idle.put_nowait(await asyncio.open_connection(*self.addr))

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        payload = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {self.prefix}{path} HTTP/1.1\r\nHost: bench\r\nX-API-Key: {self.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        message = head.encode() + payload
        reader, writer = await self.idle.get()
        try:
            try:
                writer.write(message)
                header = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                # The server closed an idle connection (uvicorn's keep-alive timeout).
                writer.close()
                reader, writer = await asyncio.open_connection(*self.addr)
                writer.write(message)
                header = await reader.readuntil(b"\r\n\r\n")
            status = int(header[9:12])
            length = 0
            for line in header.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            data = await reader.readexactly(length) if length else b""
        finally:
            self.idle.put_nowait((reader, writer))
        if status >= 300 and status != 404:
            raise RuntimeError(f"{status}: {data[:200]!r}")
        return status, data

    async def aclose(self) -> None:
        while not self.idle.empty():
            _, writer = self.idle.get_nowait()
            writer.close()


# -- the server process --------------------------------------------------------------------------
class Server:
    """`python -m aether_memory.rest` on a free port, with one API key."""

    def __init__(self, redis_url: str, folder: Path) -> None:
        self.key = secrets.token_urlsafe(24)
        self.port = free_port()
        self.log = folder / "rest.log"
        env = {
            **os.environ,
            "AETHER_URL": redis_url,
            "AETHER_API_KEYS": f"{self.key}=*",
            "AETHER_ACCESS_LOG": "0",
            "HF_HUB_OFFLINE": "1",
        }
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "aether_memory.rest", "--port", str(self.port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.log.read_text()}")
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the server did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)


# -- the operations ------------------------------------------------------------------------------
async def bench(
    redis_url: str, folder: Path, n: int, seconds: float
) -> tuple[list[Row], list[Rate]]:
    ns = "bench-" + uuid.uuid4().hex[:8]
    server = Server(redis_url, folder)
    mem = await AsyncMemory.open(redis_url, namespace=ns)
    prefix = f"/v1/namespaces/{ns}/agents/{AGENT}"
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    http = httpx.AsyncClient(
        base_url=server.base + prefix,
        headers={"X-API-Key": server.key},
        limits=limits,
        timeout=30,
    )
    raw = RawHttp(server.base, prefix, server.key, size=max(CONCURRENCY))
    await raw.open()
    try:
        agent = mem.agent(AGENT)
        s = agent.session(SESSION)
        w = f"/sessions/{SESSION}/working"
        await agent.remember_many(
            [f"note {i}: the user mentioned topic {i % 37} on day {i}" for i in range(CORPUS)]
            + ["The user moved from Lisbon to Porto in March"]
        )

        async def ok(response: Awaitable[httpx.Response]) -> Any:
            r = await response
            if r.status_code >= 300 and r.status_code != 404:
                raise RuntimeError(f"{r.status_code}: {r.text}")
            return r

        recall = {"query": QUERY, "k": 5}
        rows = [
            await compare(
                "working.set",
                lambda: s.working.set("goal", WORKING_VALUE),
                lambda: raw.request("PUT", f"{w}/goal", {"value": WORKING_VALUE}),
                lambda: ok(http.put(f"{w}/goal", json={"value": WORKING_VALUE})),
                n,
            ),
            await compare(
                "working.get",
                lambda: s.working.get("goal"),
                lambda: raw.request("GET", f"{w}/goal"),
                lambda: ok(http.get(f"{w}/goal")),
                n,
            ),
            await compare(
                "add_step",
                lambda: s.add_step(STEP["action"], STEP["observation"], STEP["reasoning"]),
                lambda: raw.request("POST", f"/sessions/{SESSION}/steps", STEP),
                lambda: ok(http.post(f"/sessions/{SESSION}/steps", json=STEP)),
                n,
            ),
            await compare(
                "checkpoint",
                lambda: s.checkpoint(STATE),
                lambda: raw.request("POST", f"/sessions/{SESSION}/checkpoints", {"state": STATE}),
                lambda: ok(http.post(f"/sessions/{SESSION}/checkpoints", json={"state": STATE})),
                n,
            ),
            await compare(
                "recall k=5 (cached query vector)",
                lambda: agent.recall(QUERY, k=5),
                lambda: raw.request("POST", "/recall", recall),
                lambda: ok(http.post("/recall", json=recall)),
                max(100, n // 4),
            ),
        ]

        async def lib_working(i: int) -> None:
            if i % 2:
                await s.working.get(f"k{i % 64}")
            else:
                await s.working.set(f"k{i % 64}", i)

        async def raw_working(i: int) -> None:
            if i % 2:
                await raw.request("GET", f"{w}/k{i % 64}")
            else:
                await raw.request("PUT", f"{w}/k{i % 64}", {"value": i})

        async def rest_working(i: int) -> None:
            if i % 2:
                await ok(http.get(f"{w}/k{i % 64}"))
            else:
                await ok(http.put(f"{w}/k{i % 64}", json={"value": i}))

        async def lib_recall(i: int) -> None:
            await agent.recall(QUERY, k=5)

        async def raw_recall(i: int) -> None:
            await raw.request("POST", "/recall", recall)

        async def rest_recall(i: int) -> None:
            await ok(http.post("/recall", json=recall))

        rates = []
        for name, fns in (
            ("working get/set", (lib_working, raw_working, rest_working)),
            ("recall k=5", (lib_recall, raw_recall, rest_recall)),
        ):
            for clients in CONCURRENCY:
                measured = [await rate(fn, clients, seconds) for fn in fns]
                rates.append(Rate(name, clients, *measured))
        return rows, rates
    finally:
        await raw.aclose()
        await http.aclose()
        await mem.aclose()
        server.stop()


def report(rows: list[Row], rates: list[Rate], n: int) -> str:
    lines = [
        f"REST vs the library, async, loopback (Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs; n={n} per side, recall n={max(100, n // 4)}). p50 in µs; "
        "`raw` = a minimal HTTP client (wire + server), `httpx` = httpx.AsyncClient.",
        "",
        "| operation | library | raw | httpx | httpx p99 | raw / library | httpx / library "
        "| server adds (raw - library) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lib, raw, rest = r.lib.pct(0.5), r.raw.pct(0.5), r.rest.pct(0.5)
        lines.append(
            f"| {r.name} | {lib:.0f} | {raw:.0f} | {rest:.0f} | {r.rest.pct(0.99):.0f} "
            f"| {raw / lib:.1f}x | {rest / lib:.1f}x | {raw - lib:.0f} |"
        )
    lines += [
        "",
        "| throughput (ops/s) | clients | library | REST, raw | REST, httpx | httpx / library |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for t in rates:
        lines.append(
            f"| {t.name} | {t.clients} | {t.lib:,.0f} | {t.raw:,.0f} | {t.rest:,.0f} "
            f"| {t.rest / t.lib:.2f}x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a Redis URL (default: start one in a temp dir)")
    parser.add_argument("--n", type=int, default=2000, help="calls per side per operation")
    parser.add_argument("--seconds", type=float, default=3.0, help="per throughput run")
    args = parser.parse_args(argv)
    tmp = tempfile.TemporaryDirectory(prefix="aether-bench-rest-")
    redis_server = None
    try:
        url = args.url
        if url is None:
            from aether_memory.server.local import RedisProcess

            redis_server = RedisProcess(Path(tmp.name) / "redis", modules=True)
            redis_server.start()
            url = redis_server.url
        rows, rates = asyncio.run(bench(url, Path(tmp.name), args.n, args.seconds))
    finally:
        if redis_server is not None:
            redis_server.stop()
        tmp.cleanup()
    print(report(rows, rates, args.n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
