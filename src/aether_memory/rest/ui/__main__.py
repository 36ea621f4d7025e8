"""``python -m aether_memory.rest.ui``: the same as ``aether ui``."""

from aether_memory.rest.server import ui_main

raise SystemExit(ui_main())
