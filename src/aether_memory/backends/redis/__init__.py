"""The Redis backend (async source in `_async`, the sync twin generated into `_sync`)."""
