"""Storage backends: the only code that talks to a database driver."""
