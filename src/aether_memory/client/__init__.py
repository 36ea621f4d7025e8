"""The public client: `Memory` / `AsyncMemory` and their agent and session handles."""
