"""The routes, by area. Each is a thin shell over one call of the async API."""
