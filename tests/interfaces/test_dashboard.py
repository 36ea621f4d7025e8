"""The web dashboard in a real browser: Debian's chromium driven by Playwright, against real
server processes (`python -m aether_memory.rest.ui`, as ``aether ui`` runs it) on the test
Redis servers, with data written through the REST API (`tests.interfaces.dashboard_data`).

The routes the dashboard added to the REST API are tested here too, on every kind of Redis.
Each page is loaded, its links followed, and what it shows compared with what the API returns
for the same key.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from aether_memory.core.ids import new_id
from aether_memory.server.local import RedisProcess
from tests.conftest import REDIS_BACKENDS, server_named
from tests.interfaces.dashboard_data import XSS, Seeded, seed
from tests.interfaces.test_rest import RestServer, start

playwright = pytest.importorskip("playwright.sync_api")  # a dev dependency: always there

CHROMIUM = Path(os.environ.get("AETHER_TEST_CHROMIUM", "/usr/bin/chromium"))
RUN = new_id().lower()[-8:]
NS = f"ui-{RUN}"
OTHER_NS = f"ui-other-{RUN}"
ADMIN = f"ui-admin-{secrets.token_hex(8)}"
KEY_ALL = f"ui-all-{secrets.token_hex(8)}"
KEY_NS = f"ui-ns-{secrets.token_hex(8)}"
KEY_OTHER = f"ui-other-{secrets.token_hex(8)}"
KEYS = f"{KEY_ALL}=*;{KEY_NS}={NS};{KEY_OTHER}={OTHER_NS}"
KEY_STORAGE = "aether-memory.api-key"
START_TIMEOUT = 120.0  # seconds: a loaded machine starts a server slowly
WAIT_MS = 30_000  # the first search loads the embedding model


@dataclass
class Dashboard:
    server: RestServer
    data: Seeded
    backend: str

    @property
    def base(self) -> str:
        return self.server.base

    def http(self, key: str = ADMIN) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers={"X-API-Key": key}, timeout=60)

    def get(self, path: str, key: str = ADMIN, **params: Any) -> Any:
        with self.http(key) as http:
            response = http.get(path, params=params)
            assert response.status_code == 200, response.text
            return response.json()


def _start(redis_url: str, folder: Path, *args: str) -> RestServer:
    return start(
        redis_url,
        folder,
        *args,
        keys=KEYS,
        env={"AETHER_ADMIN_KEYS": f"{ADMIN}=*"},
        command=("-m", "aether_memory.rest.ui"),
        timeout=START_TIMEOUT,
    )


@pytest.fixture(scope="module", params=REDIS_BACKENDS)
def any_redis(
    request: pytest.FixtureRequest,
    servers: dict[str, RedisProcess],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Dashboard]:
    """A dashboard server with the seeded namespace, per kind of Redis."""
    redis_url = server_named(servers, request.param).url
    server = _start(redis_url, tmp_path_factory.mktemp("ui"))
    try:
        with httpx.Client(base_url=server.base, headers={"X-API-Key": ADMIN}, timeout=60) as h:
            data = seed(h, f"{NS}-{request.param}")
        yield Dashboard(server, data, request.param)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def dash(
    servers: dict[str, RedisProcess], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dashboard]:
    """The dashboard the browser tests use (Redis with modules; read-only)."""
    redis_url = server_named(servers, "redis-modules").url
    server = _start(redis_url, tmp_path_factory.mktemp("ui"))
    try:
        with httpx.Client(base_url=server.base, headers={"X-API-Key": ADMIN}, timeout=60) as h:
            data = seed(h, NS)
        yield Dashboard(server, data, "redis-modules")
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    assert CHROMIUM.is_file(), f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
    args = ["--no-sandbox"] if os.geteuid() == 0 else []  # chromium refuses root otherwise
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        yield launched
        launched.close()


class Tab:
    """One browser tab on the dashboard, recording every request and page error."""

    def __init__(self, browser: Any, base: str, key: str | None, width: int, height: int):
        self.context = browser.new_context(viewport={"width": width, "height": height})
        if key is not None:
            self.context.add_init_script(f"sessionStorage.setItem({KEY_STORAGE!r}, {key!r})")
        self.page = self.context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.base = base
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, route: str = "") -> Any:
        self.page.goto(f"{self.base}/ui/#/{route}")
        self.loaded()
        return self.page

    def loaded(self) -> None:
        """Wait until the current route has rendered."""
        # A selector, not a script: the page's CSP forbids the eval wait_for_function uses.
        where = self.page.evaluate("location.hash").replace("\\", "\\\\").replace('"', '\\"')
        self.page.wait_for_selector(f'main[data-state="ready"][data-route="{where}"]')

    def text(self, selector: str) -> str:
        text: str = self.page.inner_text(selector)
        return text

    def close(self) -> None:
        assert self.errors == [], self.errors
        # Nothing is fetched from anywhere but the server itself (no CDN, no fonts).
        assert all(u.startswith(self.base) or u.startswith("data:") for u in self.requests), [
            u for u in self.requests if not u.startswith(self.base)
        ]
        assert self.page.evaluate("window.__xss") is None  # the payloads stayed text
        self.context.close()


@pytest.fixture
def tab(browser: Any, dash: Dashboard) -> Iterator[Tab]:
    opened = Tab(browser, dash.base, KEY_NS, 1280, 800)
    yield opened
    opened.close()


def cells(page: Any, table: str) -> list[list[str]]:
    """The text of each body row's cells of the table inside `table`."""
    rows: list[list[str]] = page.eval_on_selector(
        table,
        "el => [...el.querySelectorAll('tbody tr')].map("
        "tr => [...tr.children].map(td => td.innerText.trim()))",
    )
    return rows


def ns_path(data: Seeded) -> str:
    return f"/v1/namespaces/{data.ns}"


# -- the routes the dashboard reads, on every kind of Redis -------------------------------------
def test_access_names_the_keys_namespaces(any_redis: Dashboard) -> None:
    assert any_redis.get("/v1/access", KEY_NS) == {"auth": True, "namespaces": [NS], "admin": False}
    assert any_redis.get("/v1/access", KEY_ALL) == {
        "auth": True,
        "namespaces": None,
        "admin": False,
    }
    assert any_redis.get("/v1/access", ADMIN) == {"auth": True, "namespaces": None, "admin": True}
    assert httpx.get(f"{any_redis.base}/v1/access").status_code == 401


def test_namespace_health(any_redis: Dashboard) -> None:
    data = any_redis.data
    health = any_redis.get(f"{ns_path(data)}/health")
    assert health["serving"] == "redis" and health["ok"] is True and health["degraded"] is False
    assert health["outbox"] == 0 and health["maxmemory_policy"] == "noeviction"
    assert health["aof"] is True  # the test servers run with AOF, as `aether up` does
    assert health["search"] is (any_redis.backend == "redis-modules")
    with any_redis.http(KEY_OTHER) as http:
        assert http.get(f"{ns_path(data)}/health").status_code == 403


def test_checkpoint_diff(any_redis: Dashboard) -> None:
    data = any_redis.data
    sess = f"{ns_path(data)}/agents/{data.agent}/sessions/{data.session}/checkpoints"
    diff = any_redis.get(f"{sess}/1/diff/3")
    assert diff == {
        "a": 1,
        "b": 3,
        "changes": [
            {"path": "/step", "op": "changed", "before": 1, "after": 3},
            {"path": "/plan/1", "op": "added", "before": None, "after": "hotel"},
            {"path": "/budget", "op": "changed", "before": 900, "after": 750},
            {"path": "/hotel", "op": "added", "before": None, "after": "Avenida " + XSS},
        ],
    }
    assert any_redis.get(f"{sess}/2/diff/2")["changes"] == []
    with any_redis.http() as http:
        missing = http.get(f"{sess}/1/diff/99")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        invalid = http.get(f"{sess}/0/diff/1")
        assert invalid.status_code == 400 and invalid.json()["error"]["code"] == "invalid_input"


def test_search_shows_score_components_and_touches_nothing(any_redis: Dashboard) -> None:
    data = any_redis.data
    before = any_redis.get(f"{ns_path(data)}/memories/{data.correction}")["access_count"]
    with any_redis.http() as http:
        body = {"query": "Lisbon trip budget", "k": 3, "kinds": ["fact"]}
        response = http.post(f"{ns_path(data)}/memories/search", json=body)
        assert response.status_code == 200, response.text
        hits = response.json()["hits"]
        assert hits[0]["record"]["id"] == data.correction  # the superseded one is left out
        assert {h["record"]["kind"] for h in hits} == {"fact"}
        for hit in hits:
            assert set(hit) == {
                "record",
                "score",
                "vector",
                "text",
                "exact",
                "recency",
                "importance",
            }
        history = http.post(
            f"{ns_path(data)}/memories/search", json={**body, "include_superseded": True}
        ).json()["hits"]
        assert data.old_fact in {h["record"]["id"] for h in history}
        bad = http.post(f"{ns_path(data)}/memories/search", json={"query": "x", "kinds": "fact"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_input"
    # A recall counts as an access; a search from the dashboard does not.
    assert any_redis.get(f"{ns_path(data)}/memories/{data.correction}")["access_count"] == before


# -- how it is served ---------------------------------------------------------------------------
def test_served_at_ui_by_serve_and_at_root_by_ui() -> None:
    from fastapi.testclient import TestClient

    from aether_memory.rest.app import create_app
    from aether_memory.rest.settings import RestSettings
    from aether_memory.rest.ui import CSP

    with TestClient(create_app(RestSettings())) as client:
        page = client.get("/ui/")
        assert page.status_code == 200 and '<script type="module" src="app.js">' in page.text
        assert page.headers["content-security-policy"] == CSP
        assert client.get("/ui/config.json").json() == {"writable": False}
        assert client.get("/", follow_redirects=False).status_code == 404
        assert "/ui" not in str(client.get("/openapi.json").json()["paths"])
    settings = RestSettings(AETHER_UI_WRITABLE=True)
    with TestClient(create_app(settings, ui_at_root=True)) as client:
        root = client.get("/", follow_redirects=False)
        assert root.status_code == 307 and root.headers["location"] == "/ui/"
        assert client.get("/ui/config.json").json() == {"writable": True}


def test_aether_ui_refuses_a_public_address_without_keys() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aether_memory.cli.main", "ui", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("aether ui: refusing to serve 0.0.0.0 without API keys")


# -- the pages, in chromium ---------------------------------------------------------------------
def test_assets_ship_in_the_package_and_load_nothing_else() -> None:
    from aether_memory.rest.ui import static_dir

    names = {p.name for p in static_dir().iterdir()}
    assert {
        "index.html",
        "app.js",
        "api.js",
        "dom.js",
        "views.js",
        "chart.js",
        "style.css",
    } <= names
    for path in static_dir().iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), path.name
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text, path.name


def test_an_api_key_is_required(browser: Any, dash: Dashboard) -> None:
    anonymous = Tab(browser, dash.base, None, 1280, 800)
    page = anonymous.open(f"ns/{NS}/agents/{dash.data.agent}")
    assert "An API key is needed" in anonymous.text("main")
    assert "Lisbon" not in page.inner_text("body")  # nothing of the namespace is shown
    page.fill("#api-key", "not-a-key-0123456789")
    page.click("#key-save")
    page.wait_for_selector("text=This key is not known")
    assert "Lisbon" not in page.inner_text("body")
    page.fill("#api-key", KEY_NS)
    page.press("#api-key", "Enter")
    page.wait_for_selector("#identity")
    assert "Book the Lisbon trip." in anonymous.text("#identity")
    assert page.evaluate(f"sessionStorage.getItem({KEY_STORAGE!r})") == KEY_NS
    assert page.input_value("#api-key") == ""  # the key is not left on the page
    page.click("#key-forget")
    page.wait_for_selector("text=An API key is needed")
    assert page.evaluate(f"sessionStorage.getItem({KEY_STORAGE!r})") is None
    anonymous.close()


def test_a_key_sees_only_its_namespaces(browser: Any, dash: Dashboard) -> None:
    other = Tab(browser, dash.base, KEY_OTHER, 1280, 800)
    other.open()
    assert other.text("#namespaces").split() == [OTHER_NS]
    page = other.open(f"ns/{NS}")
    assert "Error 403" in other.text("main") and "may not use namespace" in other.text("#error")
    assert dash.data.agent not in page.inner_text("main")
    other.close()


def test_follow_the_links_to_a_session(tab: Tab, dash: Dashboard) -> None:
    data = dash.data
    page = tab.open()
    assert tab.text("#namespaces").split() == [NS]
    page.click(f"#namespaces a:text-is('{NS}')")
    tab.loaded()
    agents = dash.get(f"{ns_path(data)}/agents", KEY_NS)["agents"]
    assert [row[0] for row in cells(page, "#agents")] == agents
    page.click(f"#agents a:text-is('{data.agent}')")
    page.wait_for_selector("#sessions")
    # Identity and state as the API has them, hostile text included, as text.
    identity = dash.get(f"{ns_path(data)}/agents/{data.agent}/identity")["documents"]
    assert tab.text("#identity") == "\n".join(f"{k}\n{v}" for k, v in identity.items())
    state = dash.get(f"{ns_path(data)}/agents/{data.agent}/state")["state"]
    shown = {row[0]: row[1] for row in cells(page, "#state")}
    assert shown.keys() == state.keys() and shown["note"] == json.dumps(XSS)
    assert page.locator("main img, main script").count() == 0
    page.click(f"#sessions a:text-is('{data.session}')")
    page.wait_for_selector("#timeline")
    base = f"{ns_path(data)}/agents/{data.agent}/sessions/{data.session}"
    events = dash.get(f"{base}/log")["events"]
    rows = cells(page, "#timeline")
    assert [r[1] for r in rows] == [e["type"] for e in events]
    assert [r[3] for r in rows] == [e["outcome"] for e in events]
    assert [r[4] for r in rows] == [
        "" if e["latency_ms"] is None else f"{e['latency_ms']:.1f}" for e in events
    ]
    assert [r[2] for r in rows if r[1] == "tool_call"] == [
        "flights.search",
        "hotels.book",
        "hotels.book",
    ]
    working = dash.get(f"{base}/working")["values"]
    assert sorted(r[0] for r in cells(page, "#working")) == sorted(working)
    checkpoints = dash.get(f"{base}/checkpoints")["checkpoints"]
    assert [r[0] for r in cells(page, "#checkpoints")] == [str(c["n"]) for c in checkpoints]
    # The diff of two checkpoints, chosen in the form.
    page.select_option("#a", "1")
    page.select_option("#b", "3")
    page.click("#diff-form button")
    page.wait_for_selector("#diff")
    diff = dash.get(f"{base}/checkpoints/1/diff/3")["changes"]
    assert [(r[0], r[1]) for r in cells(page, "#diff")] == [(c["path"], c["op"]) for c in diff]
    assert cells(page, "#diff")[-1][3] == json.dumps("Avenida " + XSS)


def test_search_with_score_components(tab: Tab, dash: Dashboard) -> None:
    data = dash.data
    page = tab.open(f"ns/{NS}/memories")
    listed = dash.get(f"{ns_path(data)}/memories", limit=100)["memories"]
    shown = page.eval_on_selector_all("#memories .memory", "els => els.map(e => e.dataset.id)")
    assert shown == [m["id"] for m in listed]
    page.fill("#f-q", "Lisbon trip budget")
    page.fill("#f-kind", "fact")
    page.press("#f-q", "Enter")
    page.wait_for_selector("#hits")
    with dash.http(KEY_NS) as http:
        body = {"query": "Lisbon trip budget", "k": 10, "kinds": ["fact"]}
        hits = http.post(f"{ns_path(data)}/memories/search", json=body).json()["hits"]
    rows = cells(page, "#hits")
    ids = page.eval_on_selector_all("#hits .memory", "els => els.map(e => e.dataset.id)")
    assert ids == [h["record"]["id"] for h in hits]
    for row, hit in zip(rows, hits, strict=True):
        assert row[1] == "fact"
        assert row[4:] == [
            f"{hit[k]:.3f}" for k in ("score", "vector", "text", "exact", "recency", "importance")
        ]
    assert "superseded" not in tab.text("#hits")
    # With the history, the corrected fact shows, marked.
    page.select_option("#f-history", "all")
    page.click("#search-form button")
    page.wait_for_selector(f"#hits .memory[data-id='{data.old_fact}']")
    assert "superseded" in page.inner_text(f"#hits .memory[data-id='{data.old_fact}']")


def test_filters_and_superseded_history(tab: Tab, dash: Dashboard) -> None:
    data = dash.data
    page = tab.open(f"ns/{NS}/memories?kind=preference")
    assert [r[1] for r in cells(page, "#memories")] == ["preference"]
    page = tab.open(f"ns/{NS}/memories?tag=budget&history=only")
    only = dash.get(f"{ns_path(data)}/memories", tag="budget", superseded_only="true")["memories"]
    ids = page.eval_on_selector_all("#memories .memory", "els => els.map(e => e.dataset.id)")
    assert ids == [m["id"] for m in only] == [data.old_fact]
    page.click(f"#memories .memory[data-id='{data.old_fact}'] a")
    page.wait_for_selector("#history")
    history = page.eval_on_selector_all("#history li", "els => els.map(e => e.dataset.id)")
    assert history == [data.old_fact, data.correction]
    assert "750 euros" in tab.text("#history") and "900 euros" in tab.text("#content")
    # A time filter: nothing occurred before 2000.
    page = tab.open(f"ns/{NS}/memories?until=2000-01-01T00:00:00Z")
    assert "No memories match." in tab.text("main")


def test_skills_episodes_and_health_match_the_api(tab: Tab, dash: Dashboard) -> None:
    data = dash.data
    page = tab.open(f"ns/{NS}/skills")
    skills = dash.get(f"{ns_path(data)}/skills")["skills"]
    rows = cells(page, "#skills")
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        (s["name"], s["description"], str(s["runs"]), f"{round(s['success_rate'] * 100)}%")
        for s in skills
    ]
    page.click("nav.tabs a:text-is('Episodes')")
    page.wait_for_selector("#episodes")
    episodes = dash.get(f"{ns_path(data)}/episodes")["episodes"]
    rows = cells(page, "#episodes")
    assert [(r[0], r[2], r[5]) for r in rows] == [
        (e["task_prompt"], "success" if e["success"] else "failure", str(len(e["steps"])))
        for e in episodes
    ]
    page.click("nav.tabs a:text-is('Health')")
    page.wait_for_selector("#store")
    health = dash.get(f"{ns_path(data)}/health")
    store = tab.text("#store")
    assert f"serving\n{health['serving']}" in store and f"\n{health['server_version']}" in store
    assert f"maxmemory policy\n{health['maxmemory_policy']}" in tab.text("#eviction")
    assert "append-only file\nyes" in tab.text("#persistence")


def test_live_updates_by_polling(tab: Tab, dash: Dashboard) -> None:
    data = dash.data
    page = tab.open(f"ns/{NS}/agents/{data.agent}/sessions/{data.session}")
    before = len(cells(page, "#timeline"))
    marker = f"live-{new_id()}"
    with dash.http(KEY_NS) as http:
        base = f"{ns_path(data)}/agents/{data.agent}/sessions/{data.session}"
        assert http.post(f"{base}/steps", json={"action": marker}).status_code == 201
    page.wait_for_selector(f"#timeline td:text-is('{marker}')")  # no reload
    assert len(cells(page, "#timeline")) == before + 1


def test_live_updates_from_the_change_feed(tab: Tab, dash: Dashboard) -> None:
    """Writes made through the API while a page is open appear without a reload, redrawn
    because the namespace's change feed told the page (not by a poll)."""
    data = dash.data
    page = tab.open(f"ns/{NS}")
    page.wait_for_selector('body[data-feed="open"]')
    scout = f"scout-{new_id().lower()}"
    with dash.http(KEY_NS) as http:
        beat = {"status": "busy", "current_task": "reading the map", "ttl": 600}
        assert http.put(f"{ns_path(data)}/agents/{scout}/heartbeat", json=beat).status_code == 204
    row = page.wait_for_selector(f"#agents tr:has(a:text-is('{scout}'))")
    assert [c.strip() for c in row.inner_text().split("\t")][:4] == [
        scout, "online", "busy", "reading the map",
    ]  # fmt: skip
    assert page.get_attribute("main", "data-cause") == "feed"
    presence = dash.get(f"{ns_path(data)}/presence", KEY_NS)["agents"]
    shown = {r[0]: r[1] for r in cells(page, "#agents")}
    assert {a["agent"]: ("online" if a["online"] else "offline") for a in presence} == {
        a: shown[a] for a in (p["agent"] for p in presence)
    }

    page.click("nav.tabs a:text-is('Long-term memory')")
    tab.loaded()
    page.wait_for_selector('body[data-feed="open"]')
    marker = f"The courier arrives at {new_id()}"
    with dash.http(KEY_NS) as http:
        body = {"content": marker, "kind": "fact"}
        reply = http.post(f"{ns_path(data)}/agents/{data.agent}/memories", json=body)
        assert reply.status_code == 201, reply.text
    page.wait_for_selector(f"main .memory a:text-is('{marker}')")
    assert page.get_attribute("main", "data-cause") == "feed"


def test_timeline_shows_each_events_trace(
    tab: Tab, dash: Dashboard, servers: dict[str, RedisProcess]
) -> None:
    """An event recorded inside a trace (here by the library, with the SDK set up) shows its
    trace id in the session's timeline, as the API returns it."""
    from aether_memory import Memory
    from tests.telemetry import otel_setup

    setup = otel_setup()
    otel = next(setup)
    try:
        url = server_named(servers, "redis-modules").url
        tracer = otel.tracer_provider.get_tracer("t")
        with Memory.open(url, namespace=NS) as mem, tracer.start_as_current_span("work") as span:
            mem.agent("tracer").session("t1").record("step", {"action": "traced"})
        trace_id = format(span.get_span_context().trace_id, "032x")
    finally:
        setup.close()
    page = tab.open(f"ns/{NS}/agents/tracer/sessions/t1")
    events = dash.get(f"{ns_path(dash.data)}/agents/tracer/sessions/t1/log")["events"]
    assert [e["trace_id"] for e in events] == [trace_id]
    (row,) = cells(page, "#timeline")
    assert row[5] == trace_id


def test_keyboard_navigation(tab: Tab) -> None:
    page = tab.open()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == NS
    # Focus is visible: an outline drawn around the focused link.
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")
    page.keyboard.press("Enter")
    tab.loaded()
    assert page.evaluate("location.hash") == f"#/ns/{NS}"
    assert page.evaluate("document.activeElement.id") == "main"  # the new page is announced
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # Agents, then Long-term memory
    assert page.evaluate("document.activeElement.textContent") == "Long-term memory"
    page.keyboard.press("Enter")
    page.wait_for_selector("#search-form")
    page.focus("#f-q")
    page.keyboard.type("peanuts")
    page.keyboard.press("Enter")
    page.wait_for_selector("#hits")
    assert "allergic to peanuts" in tab.text("#hits")
    # Every link can be followed from the keyboard: it has a target.
    assert page.eval_on_selector_all("main a:not([href])", "els => els.length") == 0


PAGES = [
    "",
    f"ns/{NS}",
    f"ns/{NS}/agents/planner",
    f"ns/{NS}/agents/planner/sessions/trip-1?a=1&b=3",
    f"ns/{NS}/memories",
    f"ns/{NS}/memories?q=Lisbon",
    f"ns/{NS}/skills",
    f"ns/{NS}/episodes",
    f"ns/{NS}/health",
]


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_every_page_fits_the_screen(browser: Any, dash: Dashboard, width: int, height: int) -> None:
    tab = Tab(browser, dash.base, KEY_NS, width, height)
    for route in PAGES:
        page = tab.open(route)
        # No sideways scrolling of the page: wide tables scroll inside their own box.
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (route, overflow)
        assert page.evaluate("window.__xss") is None, route
        assert page.locator("main img").count() == 0, route
    tab.close()


def test_read_only_unless_writable(
    browser: Any, dash: Dashboard, servers: dict[str, RedisProcess], tmp_path: Path
) -> None:
    data = dash.data
    tab = Tab(browser, dash.base, KEY_NS, 1280, 800)
    page = tab.open(f"ns/{NS}/memories")
    assert page.locator("main button[data-forget]").count() == 0
    assert "Read-only" in tab.text("#mode")
    tab.close()
    writable = _start(server_named(servers, "redis-modules").url, tmp_path, "--writable")
    try:
        tab = Tab(browser, writable.base, KEY_NS, 1280, 800)
        page = tab.open(f"ns/{NS}/memories")
        assert "Writable" in tab.text("#mode")
        page.on("dialog", lambda dialog: dialog.accept())
        button = page.locator(f"button[data-forget='{data.hostile_memory}']")
        button.focus()
        page.keyboard.press("Enter")
        page.wait_for_selector(f".memory[data-id='{data.hostile_memory}']", state="detached")
        with dash.http(KEY_NS) as http:
            gone = http.get(f"{ns_path(data)}/memories/{data.hostile_memory}")
            assert gone.status_code == 404
        tab.close()
    finally:
        writable.stop()


# -- agent metrics --------------------------------------------------------------------------------
def _contract_metrics(agent: str) -> dict[str, Any]:
    """An answer shaped as the agent-metrics route's contract: the last hour in one-minute
    buckets, three of them with calls (the route sends only those)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)

    def bucket(ago: int, tool: str | None, calls: int, errors: int, lat: float) -> dict[str, Any]:
        start = (now - timedelta(minutes=ago)).isoformat().replace("+00:00", "Z")
        return {
            "start": start, "tool": tool, "calls": calls, "errors": errors,
            "latency_ms_sum": lat * calls, "latency_ms_max": lat * 2,
            "tokens_in": 100 * calls, "tokens_out": 10 * calls,
        }  # fmt: skip

    since = (now - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    buckets = [
        bucket(5, None, 4, 1, 50.0), bucket(5, "flights.search", 4, 1, 50.0),
        bucket(3, None, 1, 0, 10.0), bucket(3, "flights.search", 1, 0, 10.0),
        bucket(1, None, 6, 0, 20.0), bucket(1, "hotels.book", 6, 0, 20.0),
    ]  # fmt: skip
    return {"agent": agent, "bucket_seconds": 60, "since": since, "buckets": buckets}


def _check_chart(page: Any, answer: dict[str, Any]) -> None:
    totals = [b for b in answer["buckets"] if b["tool"] is None]
    calls = sum(b["calls"] for b in totals)
    errors = sum(b["errors"] for b in totals)
    text = page.inner_text("#totals")
    assert f"calls\n{calls}" in text and f"errors\n{errors}" in text
    if calls:
        assert f"success rate\n{(calls - errors) / calls * 100:.1f}%" in text

    def values(selector: str) -> list[float]:
        found: list[float] = page.eval_on_selector_all(
            selector, "els => els.map(e => Number(e.dataset.value))"
        )
        return found

    # One bar per bucket of the range, the empty ones at zero, the others as the API says.
    bars = values("#chart-calls rect[data-series='calls']")
    assert len(bars) >= len(totals) and [v for v in bars if v] == [
        b["calls"] for b in totals if b["calls"]
    ]
    tokens = values("#chart-tokens rect[data-series='in']")
    assert [v for v in tokens if v] == [b["tokens_in"] for b in totals if b["tokens_in"]]
    assert page.locator("#chart-latency polyline").count() == 2


def test_metrics_charts_draw_the_contract(tab: Tab, dash: Dashboard) -> None:
    """The charts against an answer of the agent-metrics contract, served to the page by the
    browser (the route itself is tested by the next test, where the server has it)."""
    answer = _contract_metrics(dash.data.agent)
    tab.page.route(
        re.compile(r".*/agents/[^/]+/metrics\?.*"),
        lambda route: route.fulfill(status=200, json=answer),
    )
    page = tab.open(f"ns/{NS}/agents/{dash.data.agent}/metrics")
    page.wait_for_selector("#chart-calls")
    _check_chart(page, answer)
    page.click("nav[aria-label='Tool'] a:text-is('hotels.book')")
    page.wait_for_selector("nav[aria-label='Tool'] a[aria-current='true']:text-is('hotels.book')")
    assert "calls\n6" in page.inner_text("#totals")


def _has_metrics_route(dash: Dashboard) -> bool:
    paths = dash.get("/openapi.json")["paths"]
    return "/v1/namespaces/{ns}/agents/{agent}/metrics" in paths


def test_metrics_charts_match_the_api(tab: Tab, dash: Dashboard) -> None:
    """The charts against the server's agent-metrics route (the telemetry work's contract):
    the route must exist, and the charts must show what it answers."""
    assert _has_metrics_route(dash), "the server has no agent-metrics route"
    data = dash.data
    path = f"{ns_path(data)}/agents/{data.agent}/metrics"
    page = tab.open(f"ns/{NS}/agents/{data.agent}/metrics?since=3600")
    page.wait_for_selector("#chart-calls, main .empty")
    answer = dash.get(path, KEY_NS, since=3600, bucket=60)
    assert sum(b["calls"] for b in answer["buckets"] if b["tool"] is None) > 0  # the seed's
    page.wait_for_selector("#chart-calls")
    _check_chart(page, answer)
