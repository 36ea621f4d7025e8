"""What OpenTelemetry costs the kernel benchmark, measured alternately in one run.

Three sides, each a fresh process running the kernel benchmark (library against raw
redis-py, ratios of p50s), in rotating order within each round:

- **base**: a source tree without instrumentation (``--base``, e.g. ``git archive`` of the
  commit before it), its own ``bench/bench_kernel.py`` on its own ``src``;
- **api**: this tree with only the OpenTelemetry API (instrumentation off);
- **sdk**: this tree with the SDK set up and spans dropped (``bench_otel.py``).

A loaded machine swings single runs by tens of percent, so each side runs ``--rounds`` times
and the table shows the median ratio with its spread (min-max), and the api/base and
sdk/api quotients of the medians.

Run:
    git archive <commit> | tar -x -C /tmp/base
    python bench/bench_otel_compare.py --base /tmp/base --rounds 4 --n 300
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def side_command(
    side: str, base: Path, n: int, out: Path
) -> tuple[list[str], Path, dict[str, str]]:
    env = dict(os.environ)
    args = ["--plain", "--n", str(n), "--markdown", str(out)]
    if side == "base":
        env["PYTHONPATH"] = str(base / "src")
        return [sys.executable, str(base / "bench" / "bench_kernel.py"), *args], base / "bench", env
    script = "bench_kernel.py" if side == "api" else "bench_otel.py"
    return [sys.executable, str(HERE / script), *args], HERE, env


def ratios(markdown: str) -> dict[str, float]:
    """The p50 ratio of each single-operation row of a kernel benchmark table."""
    found: dict[str, float] = {}
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[3].endswith("x") and cells[0] != "operation":
            try:
                found[cells[0]] = float(cells[3].rstrip("x"))
            except ValueError:
                continue
    return found


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", type=Path, required=True, help="a source tree without telemetry")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--n", type=int, default=300, help="timed calls per side and operation")
    a = p.parse_args()
    sides = ["base", "api", "sdk"]
    runs: dict[str, list[dict[str, float]]] = {s: [] for s in sides}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for side in sides[r % 3 :] + sides[: r % 3]:  # rotate who goes first
                out = Path(tmp) / f"{side}-{r}.md"
                cmd, cwd, env = side_command(side, a.base, a.n, out)
                done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
                if done.returncode != 0:  # e.g. its Redis did not start in time: say so, go on
                    tail = done.stderr.strip().splitlines()[-3:]
                    print(f"round {r + 1}: {side} failed: {tail}", file=sys.stderr, flush=True)
                    continue
                runs[side].append(ratios(out.read_text()))
                print(f"round {r + 1}: {side} done", file=sys.stderr, flush=True)
    if not all(runs.values()):
        print("a side never completed: no table", file=sys.stderr)
        return 1
    ops = [op for op in runs["api"][0] if all(op in run for s in sides for run in runs[s])]
    counts = ", ".join(f"{s} {len(runs[s])}" for s in sides)
    print(f"library/raw p50 ratio, median (min-max) of the rounds that ran ({counts}), n={a.n}\n")
    print("| operation | base | api only | sdk | api/base | sdk/api |")
    print("|---|---|---|---|---:|---:|")
    for op in ops:
        med = {}
        cols = []
        for s in sides:
            values = [run[op] for run in runs[s]]
            med[s] = statistics.median(values)
            cols.append(f"{med[s]:.2f}x ({min(values):.2f}-{max(values):.2f})")
        print(f"| {op} | {' | '.join(cols)} | {med['api'] / med['base']:.2f} | "
              f"{med['sdk'] / med['api']:.2f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
