"""The feed across processes and faults: a subscriber SIGKILLed and restarted while writes
happen gets every notification once, in order; a subscriber keeps going through a Redis
SIGKILL and restart; writes made through the fallback during an outage reach the feed when
replayed (every kind, each once); an inbox reader that dies before acknowledging gets its
messages again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from aether_memory import Memory, Options
from aether_memory.core.feed import Notification
from aether_memory.core.ids import new_id
from aether_memory.server.local import RedisProcess
from tests.conformance.test_feed import until_marker
from tests.conformance.test_feed_kinds import ANY, write_every_kind
from tests.integration.test_fallback import replayed, wait_for
from tests.word_embedder import WordHashEmbedder

ROOT = Path(__file__).resolve().parents[2]
WRITES = 1000
OPTIONS = Options(socket_timeout=0.5, connect_timeout=0.5, retries=1)


def _subscriber(url: str, ns: str, out: Path, after: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.feed_worker", url, ns, str(out), after],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _lines(path: Path) -> list[tuple[str, int]]:
    """The complete lines a subscriber wrote (a line cut by SIGKILL is not one)."""
    if not path.exists():
        return []
    text = path.read_text()
    complete = text[: text.rfind("\n") + 1]
    return [(p, int(b)) for p, b in (line.split(" ") for line in complete.splitlines())]


def test_a_subscriber_killed_and_restarted_misses_nothing_and_repeats_nothing(
    url: str, tmp_path: Path
) -> None:
    ns = "t" + new_id().lower()
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    with Memory.open(url, namespace=ns) as mem:
        process = _subscriber(url, ns, first, mem.feed.position())
        try:
            for i in range(WRITES):
                mem.broadcast("count", i)
                if i == WRITES // 3:
                    wait_for(lambda: len(_lines(first)) > 10, "the first subscriber")
                    process.send_signal(signal.SIGKILL)
                    process.wait()
                    resume = _lines(first)[-1][0]  # its last position, as it recorded it
                    process = _subscriber(url, ns, second, resume)
            wait_for(lambda: len(_lines(first)) + len(_lines(second)) >= WRITES, "every write")
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
    bodies = [b for _, b in _lines(first) + _lines(second)]
    assert bodies == list(range(WRITES))  # every one, once, in order


class Collector:
    """A subscriber thread in this process."""

    def __init__(self, mem: Memory, after: str) -> None:
        self.got: list[Notification] = []
        self.error: BaseException | None = None
        self._stream = mem.subscribe(kinds=["broadcast", "message"], after=after)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for note in self._stream:
                self.got.append(note)
        except BaseException as exc:  # surfaced by the test
            self.error = exc


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisProcess]:
    process = RedisProcess(tmp_path / "redis", fsync="always")
    process.start()
    yield process
    process.stop()


def test_a_subscriber_resumes_after_redis_is_killed_and_restarted(server: RedisProcess) -> None:
    with Memory.open(server.url, options=OPTIONS.with_(namespace="kill")) as mem:
        collector = Collector(mem, mem.feed.position())
        for i in range(50):
            mem.broadcast("n", i)
        wait_for(lambda: len(collector.got) == 50, "the notifications before the kill")
        server.kill()
        server.restart()
        for i in range(50, 100):
            mem.broadcast("n", i)
        wait_for(lambda: len(collector.got) >= 100 or collector.error is not None, "the rest")
        assert collector.error is None
        assert [n.body for n in collector.got] == list(range(100))


def test_writes_during_an_outage_reach_the_feed_when_replayed(
    server: RedisProcess, tmp_path: Path
) -> None:
    options = OPTIONS.with_(namespace="outage")
    with Memory.open(server.url, options=options, fallback=f"sqlite:///{tmp_path}/f.db") as mem:
        collector = Collector(mem, mem.feed.position())
        mem.broadcast("n", 0)
        wait_for(lambda: len(collector.got) == 1, "the notification before the outage")
        server.kill()
        mem.broadcast("n", 1)  # queued in the fallback's outbox
        mid = mem.agent("a").send("b", "during")
        assert mem.health().degraded
        server.restart()
        wait_for(lambda: replayed(mem.health()), "the replay")
        mem.broadcast("n", 2)
        wait_for(lambda: len(collector.got) >= 4 or collector.error is not None, "the replay")
        assert collector.error is None
        assert [n.body for n in collector.got] == [0, 1, "during", 2]
        assert [m.body for m in mem.agent("b").inbox()] == ["during"]
        assert mid  # the fallback's id; the primary gave the replayed message its own


def test_an_inbox_reader_killed_before_acknowledging_reads_its_messages_again(
    url: str, tmp_path: Path
) -> None:
    ns = "t" + new_id().lower()
    with Memory.open(url, namespace=ns) as mem:
        for i in range(3):
            mem.agent("boss").send("worker", i)
        code = (
            "import os, signal, sys\n"
            "from aether_memory import Memory\n"
            f"mem = Memory.open({url!r}, namespace={ns!r})\n"
            "got = mem.agent('worker').inbox()\n"
            "print(len(got), flush=True)\n"
            "os.kill(os.getpid(), signal.SIGKILL)  # before acknowledging\n"
        )
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT)
        assert run.returncode == -signal.SIGKILL and run.stdout.strip() == b"3"
        again = mem.agent("worker").inbox()
        assert [m.body for m in again] == [0, 1, 2]  # redelivered: at least once
        assert mem.agent("worker").inbox(ack=again[-1].id) == []


def test_every_kind_written_during_an_outage_is_notified_on_replay(
    server: RedisProcess, tmp_path: Path
) -> None:
    (tmp_path / "identity").mkdir()
    with Memory.open(
        server.url, options=OPTIONS.with_(namespace="replay"),
        fallback=f"sqlite:///{tmp_path}/f.db", embedder=WordHashEmbedder(),
    ) as mem:  # fmt: skip
        start = mem.feed.position()
        server.kill()
        expected = write_every_kind(mem, tmp_path / "identity")
        assert mem.health().degraded
        server.restart()
        wait_for(lambda: replayed(mem.health()), "the replay")
        got = until_marker(mem, start)
    # The replayed message gets the primary's inbox id, not the one the fallback returned.
    expected = [(k, o, ANY if k == "message" else i, a) for k, o, i, a in expected]
    assert [(n.kind, n.op, n.id if e[2] != ANY else ANY, n.agent)
            for n, e in zip(got, expected, strict=False)] == expected  # fmt: skip
    assert len(got) == len(expected)


def test_a_write_that_reloads_its_script_after_a_restart_notifies_once(
    server: RedisProcess,
) -> None:
    options = OPTIONS.with_(namespace="restart")
    with Memory.open(server.url, options=options, embedder=WordHashEmbedder()) as mem:
        session = mem.agent("a").session()
        session.add_step("warm-up", {})
        server.kill()
        server.restart()  # its script cache is empty now
        wait_for(mem.ping, "the restarted server")
        start = mem.feed.position()
        turns = session.add_messages([{"role": "user", "content": "ship it"}])
        got = [(n.kind, n.op, n.id) for n in until_marker(mem, start)]
    assert got == [("memory", "remembered", turns[0].memory_id)]
