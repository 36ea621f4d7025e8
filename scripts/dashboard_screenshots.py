"""Screenshots of the dashboard's main pages for docs/: a private Redis, a dashboard server
(`python -m aether_memory.rest.ui`), the test data of the browser tests, and Debian's
chromium driven by Playwright.

    .venv/bin/python scripts/dashboard_screenshots.py [--out docs]

Writes docs/dashboard-*.png (1280x800, and one at a phone's 390 px width).
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test data lives with the tests

from tests.interfaces.dashboard_data import seed  # noqa: E402

from aether_memory.server.local import RedisProcess, free_port  # noqa: E402

NS = "demo"
PAGES = [
    ("namespace", f"ns/{NS}"),  # agents with their presence
    ("agent", f"ns/{NS}/agents/planner"),
    ("session", f"ns/{NS}/agents/planner/sessions/trip-1?a=1&b=3"),
    ("search", f"ns/{NS}/memories?q=Lisbon+trip+budget&history=all"),
    ("skills", f"ns/{NS}/skills"),
    ("health", f"ns/{NS}/health"),
    ("metrics", f"ns/{NS}/agents/planner/metrics"),
]


def _serve(redis_url: str, key: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "AETHER_URL": redis_url, "AETHER_API_KEYS": f"{key}=*",
           "AETHER_ADMIN_KEYS": f"{key}=*", "HF_HUB_OFFLINE": "1"}  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aether_memory.rest.ui", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the dashboard did not start:\n{log.read_text()}")


def _shoot(base: str, key: str, out: Path) -> None:
    with sync_playwright() as p:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        for width, height, names in ((1280, 800, None), (390, 844, {"session"})):
            context = browser.new_context(viewport={"width": width, "height": height})
            context.add_init_script(f"sessionStorage.setItem('aether-memory.api-key', {key!r})")
            page = context.new_page()
            page.set_default_timeout(60_000)
            for name, route in PAGES:
                if names is not None and name not in names:
                    continue
                page.goto(f"{base}/ui/#/{route}")
                page.wait_for_selector('main[data-state="ready"]')
                if name == "metrics" and page.locator("#chart-calls").count() == 0:
                    continue  # this server does not record agent metrics
                suffix = "" if width > 600 else "-phone"
                page.screenshot(path=str(out / f"dashboard-{name}{suffix}.png"))
                print(f"dashboard-{name}{suffix}.png")
            context.close()
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    key = f"shots-{secrets.token_hex(8)}"
    with tempfile.TemporaryDirectory(prefix="aether-shots-") as tmp:
        redis = RedisProcess(Path(tmp) / "redis", modules=True)
        redis.start()
        proc = None
        try:
            proc, base = _serve(redis.url, key, Path(tmp) / "ui.log")
            with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=120) as http:
                seed(http, NS)
                # Presence for the namespace page: one agent at work, long enough to shoot.
                beat = {"status": "busy", "current_task": "pricing the Lisbon trip", "ttl": 600}
                http.put(f"/v1/namespaces/{NS}/agents/planner/heartbeat", json=beat)
            _shoot(base, key, args.out)
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=15)
            redis.stop()


if __name__ == "__main__":
    main()
