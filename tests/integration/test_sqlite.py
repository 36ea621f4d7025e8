"""The SQLite store shared by threads and by processes on one file (WAL mode)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from aether_memory import ConfigurationError, Memory

WRITER = """
import sys
from aether_memory import Memory
url, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with Memory.open(url, namespace="shared") as mem:
    session = mem.agent("a").session("s")
    for i in range(n):
        session.record("tick", {"writer": name, "i": i})
        session.working.set(f"{name}-{i}", i)
        mem.agent(name).state.set(step=i)
"""


def test_processes_write_one_file_concurrently(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    n = 150
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, url, f"p{k}", str(n)]) for k in range(3)
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0]
    with Memory.open(url, namespace="shared") as mem:
        session = mem.agent("a").session("s")
        events = session.events(limit=10_000)
        assert len(events) == 3 * n
        for k in range(3):
            mine = [e.data["i"] for e in events if e.data["writer"] == f"p{k}"]
            assert mine == list(range(n))  # each writer's events in its order
            assert mem.agent(f"p{k}").state.get()["step"] == n - 1
        assert len(session.working.all()) == 3 * n
        assert mem.agents() == ["a", "p0", "p1", "p2"]


def test_threads_share_one_client(tmp_path: Path) -> None:
    with Memory.open(f"sqlite:///{tmp_path}/threads.db", namespace="t") as mem:
        errors: list[BaseException] = []

        def work(k: int) -> None:
            try:
                session = mem.agent("a").session(f"s{k}")
                for i in range(100):
                    session.record("tick", {"i": i})
                    session.checkpoint({"i": i})
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        for k in range(8):
            session = mem.agent("a").session(f"s{k}")
            assert [e.data["i"] for e in session.events(limit=200)] == list(range(100))
            assert session.restore() == {"i": 99}
        assert len(mem.agent("a").sessions()) == 8


def test_sqlite_urls_are_checked(tmp_path: Path) -> None:
    for bad in ("sqlite://", "sqlite:///", "sqlite:///:memory:", "sqlite:///x.db?mode=ro"):
        with pytest.raises(ConfigurationError):
            Memory.open(bad)
    with pytest.raises(ConfigurationError, match="no fallback"):
        Memory.open(f"sqlite:///{tmp_path}/a.db", fallback=f"sqlite:///{tmp_path}/b.db")
    with pytest.raises(ConfigurationError, match="sqlite"):
        Memory.open("redis://127.0.0.1:1/0", fallback="redis://127.0.0.1:2/0")


def test_memory_backend_sqlite_uses_the_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AETHER_HOME", str(tmp_path))
    monkeypatch.setenv("MEMORY_BACKEND", "sqlite")
    with Memory.open(namespace="env") as mem:
        mem.agent("a").identity.put("mission", "local first")
        assert mem.capabilities.backend == "sqlite"
    assert (tmp_path / "memory.db").exists()
    with Memory.open(f"sqlite:///{tmp_path}/memory.db", namespace="env") as mem:
        assert mem.agent("a").identity.get("mission") == "local first"


def test_a_file_made_before_events_stored_trace_ids_gains_the_column(tmp_path: Path) -> None:
    """Events written by an older version (no ``trace_id`` column) read back without one;
    the column is added when the file opens, so new events keep theirs."""
    import sqlite3

    from aether_memory.core import telemetry
    from tests.telemetry import otel_setup

    path = tmp_path / "old.db"
    with Memory.open(f"sqlite:///{path}", namespace="old") as mem:
        mem.agent("a").session("s").record("step", {"n": 1})
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE stream DROP COLUMN trace_id")  # the table as it used to be
    conn.close()

    setup = otel_setup()
    otel = next(setup)
    try:
        with Memory.open(f"sqlite:///{path}", namespace="old") as mem:
            s = mem.agent("a").session("s")
            new = s.record("step", {"n": 2})
            assert new.trace_id is not None and telemetry.enabled()
            assert [(e.data, e.trace_id) for e in s.events()] == [
                ({"n": 1}, None), ({"n": 2}, new.trace_id),
            ]  # fmt: skip
            assert otel.spans("record")
    finally:
        setup.close()
