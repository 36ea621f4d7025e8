"""`aether archive status/run/search/rehydrate` and `aether up --archive`: real processes
against a SQLite hot store and each archive."""

from __future__ import annotations

import time
from pathlib import Path

import orjson

from aether_memory import Memory
from aether_memory.core.config import Options, TTLs
from tests.interfaces.test_cli_manage import aether


def test_archive_commands_move_find_and_bring_back(
    tmp_path: Path, archive_url: str, namespace: str
) -> None:
    hot = "sqlite:///" + str(tmp_path / "hot.db")
    options = Options(namespace=namespace, ttl=TTLs(semantic=1.0))
    with Memory.open(hot, options=options, archive=archive_url) as mem:  # the default model
        key = mem.agent("a").remember("the deploy key rotates every Tuesday")
        mem.agent("a").remember("lunch is served at noon in the cafeteria")
    time.sleep(1.2)
    common = ("--url", hot, "--archive", archive_url, "-n", namespace, "--json")

    def run(*args: str) -> dict[str, object]:
        return dict(orjson.loads(aether("archive", *args, *common, home=tmp_path).stdout))

    assert (run("status")["hot"], run("status")["due"]) == (2, 2)
    assert run("run")["archived"] == 2
    found = run("search", "when does the deploy key rotate", "-k", "1")["items"]
    assert isinstance(found, list) and found[0]["id"] == key.id
    assert run("rehydrate", key.id, "nope")["rehydrated"] == [key.id]
    status = run("status")
    assert (status["hot"], status["archived"], status["due"]) == (1, 1, 0)
    table = aether("archive", "status", *common[:-1], home=tmp_path).stdout
    assert "hot: 1" in table


def test_archive_commands_without_an_archive_say_so(tmp_path: Path, namespace: str) -> None:
    hot = "sqlite:///" + str(tmp_path / "hot.db")
    result = aether("archive", "run", "--url", hot, "-n", namespace, home=tmp_path, check=False)
    assert result.returncode == 1 and "no archive is configured" in result.stderr


def test_up_with_archive_starts_postgres_and_down_stops_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    try:
        out = aether("up", "--archive", home=home).stdout
        line = next(x for x in out.splitlines() if x.startswith("export AETHER_ARCHIVE_URL="))
        url = line.split("=", 1)[1]
        assert url.startswith("postgresql://") and str(home) in url  # a socket in the folder
        with Memory.open("sqlite:///" + str(tmp_path / "hot.db"), archive=url) as mem:
            assert mem.lifecycle.status().archive is not None
    finally:
        down = aether("down", home=home, check=False).stdout
    assert "archive stopped" in down
    assert not (home / "archive-pg" / "postmaster.pid").exists()
