#!/usr/bin/env bash
# The one gate: lint, format, types, the generated sync twin, the import layers.
set -euo pipefail
cd "$(dirname "$0")/.."
ruff check src tests scripts bench eval examples
ruff format --check src tests scripts bench eval examples
mypy
python scripts/unasync.py --check
lint-imports
