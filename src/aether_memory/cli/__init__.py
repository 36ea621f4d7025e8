"""The `aether` command line."""
