"""docs/integrations.md's Python blocks run as written, against a real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(600)  # six interpreters, each importing a framework

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"


def test_integration_examples_run(redis_url: str, namespace: str, tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 6
    host, port = redis_url.removeprefix("redis://").split("/")[0].rsplit(":", 1)
    env = {
        **os.environ,
        "AETHER_URL": redis_url,
        "REDIS_URL": redis_url,
        "REDIS_HOST": host,
        "REDIS_PORT": port,
        "AETHER_NAMESPACE": namespace,
        "AETHER_HOME": str(tmp_path),
    }
    for i, block in enumerate(blocks):
        script = tmp_path / f"block{i}.py"
        script.write_text(block, encoding="utf-8")
        result = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, env=env,
            timeout=120, cwd=tmp_path,
        )  # fmt: skip
        assert result.returncode == 0, f"block {i}:\n{result.stderr}"
        assert result.stdout.strip(), f"block {i} printed nothing"
