"""``python -m aether_memory.rest [--host H] [--port P] [--insecure-no-auth]``."""

from aether_memory.rest.server import main

raise SystemExit(main())
