"""The storage protocol every backend implements (async source in `_async`, sync generated)."""
