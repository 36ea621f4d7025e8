"""docs/coordination.md's Python example runs as written, against every store."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "coordination.md"


def test_the_queue_example_runs(url: str, namespace: str, tmp_path: Path) -> None:
    queues = DOC.read_text(encoding="utf-8").split("\n## Task queues\n", 1)[1]
    block = re.findall(r"```python\n(.*?)```", queues, re.DOTALL)[0]
    script = tmp_path / "example.py"
    script.write_text(block, encoding="utf-8")
    env = {**os.environ, "AETHER_URL": url, "AETHER_NAMESPACE": namespace,
           "AETHER_HOME": str(tmp_path)}  # fmt: skip
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "QueueStats(pending=0, delayed=1, in_flight=0, dead=0, acked=1" in result.stdout
