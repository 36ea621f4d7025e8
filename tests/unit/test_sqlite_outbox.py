"""The fallback's outbox on a real SQLite file: a write and its entry commit together."""

from __future__ import annotations

from pathlib import Path

import pytest

from aether_memory import AetherError, Options
from aether_memory.backends.sqlite._sync.store import CHECKPOINT_GAP, SqliteStore
from aether_memory.core.config import SessionTTLs
from aether_memory.core.keys import SessionKeys
from aether_memory.storage.outbox import CLOSED, CLOSING, OPEN, OutboxClosed, decode

SESSION = SessionKeys.build("ns", "agent", "s1")
TTLS = SessionTTLs(None, None, None, None)


def test_a_spilled_write_and_its_entry_commit_together(tmp_path: Path) -> None:
    store = SqliteStore.connect(tmp_path / "fallback.db", Options())
    try:
        epoch = store.outbox_join()
        args = (SESSION, "working", {"k": b"j1"}, 1, None)
        store.outbox_spill("hash_set", args, epoch)
        assert store.hash_get(SESSION, "working", "k") == b"j1"
        [(seq, entry)] = store.outbox_peek(10)
        assert decode(entry) == ("hash_set", list(args))

        broken = (SESSION, [("only", "three", "fields")], 2, TTLS)  # fails inside the write
        with pytest.raises(AetherError):
            store.outbox_spill("events_append", broken, epoch)
        assert store.outbox_depth() == 1  # the failed write queued nothing
        assert store.events_tail(SESSION, 10, None) == []

        store.outbox_remove([seq])
        assert store.outbox_depth() == 0
    finally:
        store.close()


def test_an_epoch_closes_only_when_empty_and_then_refuses_writes(tmp_path: Path) -> None:
    first = SqliteStore.connect(tmp_path / "shared.db", Options())
    second = SqliteStore.connect(tmp_path / "shared.db", Options())
    try:
        epoch = first.outbox_join()
        assert second.outbox_join() == epoch  # a second process joins the open epoch
        args = (SESSION, "working", {"k": b"a"}, 1, None)
        second.outbox_spill("hash_set", args, epoch)
        first.outbox_begin_close()
        assert first.outbox_state() == (epoch, CLOSING)
        with pytest.raises(OutboxClosed):  # no more entries while the last are replayed
            second.outbox_spill("hash_set", args, epoch)
        assert not first.outbox_finish_close()  # one entry still waits
        [(seq, _)] = first.outbox_peek(10)
        first.outbox_remove([seq])
        assert first.outbox_finish_close()
        assert first.outbox_state() == (epoch, CLOSED)
        assert second.outbox_join() == epoch + 1  # a later outage opens a new epoch
        assert first.outbox_state() == (epoch + 1, OPEN)
    finally:
        first.close()
        second.close()


def test_a_checkpoint_made_in_an_outage_numbers_after_the_mirrored_ones(tmp_path: Path) -> None:
    store = SqliteStore.connect(tmp_path / "fallback.db", Options())
    try:
        store.mirror("checkpoint_save", (SESSION, b"from redis", 1, TTLS, 100, "w1", 31))
        assert store.mirror_flush()
        epoch = store.outbox_join()
        n = store.outbox_spill("checkpoint_save", (SESSION, b"local", 2, TTLS, 100, "w2", 0), epoch)
        assert n == 31 + CHECKPOINT_GAP  # past any number the primary may have given unseen
        later = (SESSION, b"l2", 3, TTLS, 100, "w3", 0)
        again = store.outbox_spill("checkpoint_save", later, epoch)
        assert again == n + 1  # then one by one
        entries = [decode(e)[1][-2:] for _, e in store.outbox_peek(10)]
        assert entries == [["w2", n], ["w3", n + 1]]  # replayed under the numbers given here
        assert store.checkpoint_load(SESSION, 31) == (31, b"from redis")
    finally:
        store.close()


def test_one_replayer_at_a_time(tmp_path: Path) -> None:
    first = SqliteStore.connect(tmp_path / "shared.db", Options())
    second = SqliteStore.connect(tmp_path / "shared.db", Options())
    try:
        assert first.outbox_claim("a", 60_000)
        assert first.outbox_claim("a", 60_000)  # renewing is fine
        assert not second.outbox_claim("b", 60_000)
        first.outbox_release("a")
        assert second.outbox_claim("b", 60_000)
        assert not first.outbox_claim("a", 60_000)
        second.outbox_release("b")
        assert second.outbox_claim("b", -1) and first.outbox_claim("a", 60_000)  # expired lease
    finally:
        first.close()
        second.close()


def test_sweep_deletes_expired_keys_only(tmp_path: Path) -> None:
    from aether_memory.backends.sqlite import db

    database = db.Database(tmp_path / "sweep.db")
    database.open()
    try:
        with database.write() as c:
            now = db.now_ms()
            db.hset(c, "gone", {"f": b"1"}, now)
            db.pexpire(c, "gone", -1, now)  # already expired
            db.hset(c, "kept", {"f": b"2"}, now)
            db.pexpire(c, "kept", 60_000, now)
        assert database.sweep() == 1
        with database.read() as c:
            rows = c.execute("SELECT key FROM hash ORDER BY key").fetchall()
            assert rows == [("kept",)]
            assert db.hget(c, "kept", "f", db.now_ms()) == b"2"
    finally:
        database.close()
