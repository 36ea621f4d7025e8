"""SQLite files deleted, replaced or damaged under a running client: nothing is acknowledged
into a file that is gone, a fallback keeps what it queued, a damaged file is a typed error
that names it, and a damaged fallback does not stop a healthy Redis from serving."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aether_memory import (
    AetherError,
    Memory,
    Options,
    SerializationError,
    StoreDamaged,
)
from aether_memory.server.local import RedisProcess
from tests.integration.test_fallback import replayed, wait_for

OPTIONS = Options(namespace="files", socket_timeout=0.5, connect_timeout=0.5, retries=1)


def remove(path: Path) -> None:
    """Delete a SQLite file and its sidecars, as `rm file.db*` would."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisProcess]:
    process = RedisProcess(tmp_path / "redis", fsync="always", modules=False)
    process.start()
    try:
        yield process
    finally:
        process.stop()


# -- a store whose file goes away --------------------------------------------------------


@pytest.mark.parametrize("how", ["deleted", "deleted-main-only", "replaced"])
def test_a_store_whose_file_is_gone_refuses_writes(tmp_path: Path, how: str) -> None:
    path = tmp_path / "memory.db"
    with Memory.open(f"sqlite:///{path}", options=OPTIONS) as mem:
        session = mem.agent("a").session("s1")
        for i in range(10):
            session.record("tick", {"i": i})
        if how == "deleted":
            remove(path)
        elif how == "deleted-main-only":
            path.unlink()
        else:
            other = tmp_path / "other.db"
            with Memory.open(f"sqlite:///{other}", options=OPTIONS) as elsewhere:
                elsewhere.agent("b").identity.put("persona", "someone else")
            os.replace(other, path)
        acknowledged = 0
        for i in range(10, 110):
            try:
                session.record("tick", {"i": i})
            except StoreDamaged as exc:
                assert str(path) in str(exc)
                continue
            acknowledged += 1
        assert acknowledged == 0
        with pytest.raises(StoreDamaged):
            session.working.set("k", 1)
        assert any(str(path) in w for w in mem.health().warnings)


def test_a_store_deleted_while_open_does_not_create_an_empty_file_behind_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "memory.db"
    with Memory.open(f"sqlite:///{path}", options=OPTIONS) as mem:
        mem.agent("a").identity.put("persona", "kept")
        remove(path)
        with pytest.raises(StoreDamaged):
            mem.agent("a").identity.put("persona", "lost")
    assert not path.exists()


# -- a fallback whose file goes away during an outage ------------------------------------


def test_a_fallback_deleted_mid_outage_still_replays_every_acknowledged_write(
    server: RedisProcess, tmp_path: Path
) -> None:
    path = tmp_path / "fallback.db"
    with Memory.open(server.url, options=OPTIONS, fallback=f"sqlite:///{path}") as mem:
        session = mem.agent("a").session("s1")
        session.record("tick", {"i": 0})
        server.kill()
        for i in range(1, 51):
            session.record("tick", {"i": i})
        assert mem.health().degraded
        remove(path)  # mid-outage: 50 acknowledged writes wait in it
        for i in range(51, 151):
            session.record("tick", {"i": i})
            session.working.set(f"k{i}", i)
        assert path.exists()
        server.restart()
        wait_for(lambda: replayed(mem.health()), "the replay")
    with Memory.open(server.url, options=OPTIONS) as direct:
        session = direct.agent("a").session("s1")
        assert [e.data["i"] for e in session.events(limit=500)] == list(range(151))
        assert len(session.working.all()) == 100


# -- damaged files -------------------------------------------------------------------------


def damaged_copies(tmp_path: Path) -> Iterator[Path]:
    """A real store file, then copies of it with random runs of bytes overwritten (and one
    with its header gone), each paired with the seed that made it."""
    good = tmp_path / "good.db"
    with Memory.open(f"sqlite:///{good}", options=OPTIONS) as mem:
        agent = mem.agent("a")
        agent.identity.put("persona", "p" * 300)
        session = agent.session("s1")
        for i in range(200):
            session.working.set(f"k{i}", "v" * 100)
            session.record("tick", {"i": i})
        session.checkpoint({"n": 1})
    size = good.stat().st_size
    for seed in range(24):
        bad = tmp_path / f"bad{seed}.db"
        shutil.copy(good, bad)
        data = bytearray(bad.read_bytes())
        rnd = random.Random(seed)
        start = 0 if seed == 0 else rnd.randrange(100, size - 600)
        for j in range(start, start + rnd.choice([16, 200, 500])):
            data[j] = rnd.randrange(256)
        bad.write_bytes(bytes(data))
        yield bad


def test_a_damaged_store_file_is_a_typed_error_naming_it(tmp_path: Path) -> None:
    failures = 0
    for bad in damaged_copies(tmp_path):
        try:
            with Memory.open(f"sqlite:///{bad}", options=OPTIONS) as mem:
                agent = mem.agent("a")
                agent.identity.get("persona")
                session = agent.session("s1")
                session.working.all()
                session.events(limit=300)
                session.restore()
                session.working.set("z", 1)
        except StoreDamaged as exc:
            failures += 1
            assert str(bad) in str(exc) and "backup" in str(exc)
        except SerializationError:  # a value decoded to garbage: typed, and named so
            failures += 1
        except AetherError as exc:  # any other library error is a wrong diagnosis
            raise AssertionError(f"{bad.name}: {type(exc).__name__}: {exc}") from exc
    assert failures >= 3  # the seeds above damage pages that these calls read


def test_a_damaged_fallback_does_not_stop_a_healthy_redis(
    server: RedisProcess, tmp_path: Path
) -> None:
    path = tmp_path / "fallback.db"
    path.write_bytes(b"this is not a database" * 200)
    with Memory.open(server.url, options=OPTIONS, fallback=f"sqlite:///{path}") as mem:
        agent = mem.agent("a")
        agent.identity.put("persona", "served by redis")
        assert agent.identity.get("persona") == "served by redis"
        health = mem.health()
        assert health.ok and health.serving == "redis"
        assert any("fallback" in w and str(path) in w for w in health.warnings)


def test_closing_one_client_of_a_file_keeps_another_clients_writes(tmp_path: Path) -> None:
    """Two clients of one file in a process, one closed while the other stays open; another
    process then opens the file. The open client's next write must be kept: closing a client
    must not drop the locks SQLite holds for the other (POSIX locks belong to the process,
    and closing any descriptor of the file drops them all), or the other process takes
    itself for the file's first user and resets the write-ahead log's index in use here."""
    url = f"sqlite:///{tmp_path}/shared.db"
    kept = Memory.open(url, options=OPTIONS)
    kept.agent("a").session("s").working.set("before", 1)
    # A subscriber: the client's second connection, on a thread of its own, reading.
    listener = threading.Thread(target=lambda: list(kept.subscribe()), daemon=True)
    listener.start()
    kept.broadcast("up", None)
    time.sleep(0.3)
    Memory.open(url, options=OPTIONS).close()
    writes = (
        "from aether_memory import Memory\n"
        f"with Memory.open({url!r}, namespace='files') as m:\n"
        "    m.agent('w').session('s').working.set('once', 5)\n"
    )
    subprocess.run([sys.executable, "-c", writes], check=True, timeout=120)
    other = (
        "import sys\n"
        "from aether_memory import Memory\n"
        f"with Memory.open({url!r}, namespace='files') as m:\n"
        "    m.agent('b').session('s').working.set('other', 2)\n"
        "    print('ready', flush=True)\n"
        "    sys.stdin.readline()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", other], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        kept.agent("a").session("s").working.set("after", 3)
        kept.close()
        listener.join(30)
        with Memory.open(url, options=OPTIONS) as next_one:
            next_one.agent("c").session("s").working.set("next", 4)
    finally:
        child.communicate("\n", timeout=60)
    with Memory.open(url, options=OPTIONS) as again:
        assert again.agent("a").session("s").working.all() == {"before": 1, "after": 3}
        assert again.agent("b").session("s").working.all() == {"other": 2}
        assert again.agent("c").session("s").working.all() == {"next": 4}
        assert again.agent("w").session("s").working.all() == {"once": 5}
