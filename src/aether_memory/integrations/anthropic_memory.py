"""A backend for Anthropic's memory tool (the ``memory`` tool's ``/memories`` tree) on aether
memory: `AetherMemoryTool`, a subclass of the SDK's ``BetaAbstractMemoryTool``.

    from aether_memory.integrations.anthropic_memory import AetherMemoryTool

    tool = AetherMemoryTool(mem, agent="assistant")
    runner = client.beta.messages.tool_runner(model=MODEL, max_tokens=1024, tools=[tool],
                                              messages=[{"role": "user", "content": "hi"}])

The tree maps onto one agent of one namespace:

- ``/memories/identity/<name>`` is the agent's identity document ``<name>`` (persona, mission,
  rules: what `agent.identity` holds, with no TTL), so the model reads and edits who it is;
- every other file is a key of the agent's working memory in the session ``memories`` (kept
  without TTL), e.g. ``/memories/notes/user.md``; directories are the paths' prefixes.

Every path is checked before anything is read or written: it must start with ``/memories``, and
each part must be a plain name (``A-Z a-z 0-9 _ . -``, not starting with ``.`` or ``-``), so
``..``, hidden files, backslashes, control characters and encoded tricks are refused with the
SDK's ``ToolError`` — nothing can leave the agent's tree. A read-modify-write command
(``str_replace``, ``insert``) is last-writer-wins between concurrent processes. Needs
``pip install 'aether-memory[anthropic]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from aether_memory.core.errors import InvalidInput
from aether_memory.core.ids import check_name
from aether_memory.integrations._common import needs
from aether_memory.integrations._sync.threads import ThreadStore

try:
    from anthropic.lib.tools import ToolError
    from anthropic.tools import BetaAbstractMemoryTool
    from anthropic.types.beta import (
        BetaMemoryTool20250818CreateCommand,
        BetaMemoryTool20250818DeleteCommand,
        BetaMemoryTool20250818InsertCommand,
        BetaMemoryTool20250818RenameCommand,
        BetaMemoryTool20250818StrReplaceCommand,
        BetaMemoryTool20250818ViewCommand,
    )
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(needs("anthropic", "anthropic")) from exc

if TYPE_CHECKING:
    from aether_memory.client._sync.memory import Memory

ROOT: Final = "/memories"
IDENTITY_DIR: Final = "identity"
FILES_SESSION: Final = "memories"
FILE_PREFIX: Final = "file:"
_WIDTH = 6  # line-number column, as the SDK's own backend prints it

__all__ = ["AetherMemoryTool"]


def parse_path(path: str) -> tuple[str, ...]:
    """The parts of a ``/memories/...`` path (``()`` for the root); `ToolError` if unsafe."""
    if not isinstance(path, str) or not (path == ROOT or path.startswith(ROOT + "/")):
        raise ToolError(f"Path must start with {ROOT}, got: {path!r}")
    parts = tuple(p for p in path[len(ROOT) :].split("/") if p)
    for part in parts:
        try:
            check_name(part, "path part")
        except InvalidInput:
            raise ToolError(
                f"Path {path!r} is refused: each part must be a plain name "
                "(letters, digits, _ . -, not starting with . or -)"
            ) from None
    return parts


def _numbered(text: str, first: int = 1) -> str:
    return "\n".join(f"{i:>{_WIDTH}}\t{line}" for i, line in enumerate(text.split("\n"), first))


class AetherMemoryTool(BetaAbstractMemoryTool):
    """Anthropic's memory tool on one agent's identity documents and working memory.

    Args:
        memory: an open `Memory`; the tool uses its connection and never closes it.
        agent: the agent whose memory the model sees.
    """

    def __init__(self, memory: Memory, *, agent: str = "agent") -> None:
        super().__init__()
        self.agent = memory.agent(agent)
        self._files = ThreadStore(memory, self.agent.id)

    # -- the tree ------------------------------------------------------------------------------
    def _tree(self) -> dict[tuple[str, ...], str]:
        """Every file, by its parts (identity documents under ``identity/``)."""
        identity = self.agent.identity.all()
        files: dict[tuple[str, ...], str] = {(IDENTITY_DIR, n): t for n, t in identity.items()}
        for key, text in self._files.load(FILES_SESSION).items():
            if key.startswith(FILE_PREFIX) and isinstance(text, str):
                files[tuple(key[len(FILE_PREFIX) :].split("/"))] = text
        return files

    def _read(self, parts: tuple[str, ...], path: str) -> str:
        text = self._read_or_none(parts)
        if text is None:
            raise ToolError(f"The path {path} does not exist. Please provide a valid path.")
        return text

    def _read_or_none(self, parts: tuple[str, ...]) -> str | None:
        if _is_identity(parts):
            return self.agent.identity.get(parts[1])
        if not parts:
            return None
        text = self._files.get(FILES_SESSION, FILE_PREFIX + "/".join(parts))
        return text if isinstance(text, str) else None

    def _write(self, parts: tuple[str, ...], text: str) -> None:
        if parts and parts[0] == IDENTITY_DIR:
            if len(parts) != 2:
                raise ToolError("identity documents sit directly in /memories/identity/")
            self.agent.identity.put(parts[1], text)
        elif not parts:
            raise ToolError(f"{ROOT} is a directory")
        else:
            self._files.save(FILES_SESSION, {FILE_PREFIX + "/".join(parts): text})

    def _remove(self, files: list[tuple[str, ...]]) -> None:
        for parts in files:
            if _is_identity(parts):
                self.agent.identity.delete(parts[1])
        stored = [FILE_PREFIX + "/".join(p) for p in files if not _is_identity(p)]
        if stored:
            self._files.delete(FILES_SESSION, stored)

    # -- the commands ----------------------------------------------------------------------------
    def view(self, command: BetaMemoryTool20250818ViewCommand) -> str:
        """A directory listing (two levels), or a file with line numbers."""
        parts = parse_path(command.path)
        text = self._read_or_none(parts)
        if text is not None:
            lines = text.split("\n")
            first, last = 1, len(lines)
            if command.view_range and len(command.view_range) == 2:
                first = max(1, command.view_range[0])
                last = len(lines) if command.view_range[1] == -1 else command.view_range[1]
            shown = "\n".join(lines[first - 1 : last])
            return f"Here's the content of {command.path} with line numbers:\n" + _numbered(
                shown, first
            )
        tree = self._tree()
        below = sorted(p[len(parts) :] for p in tree if p[: len(parts)] == parts and p != parts)
        if parts and not below and parts != (IDENTITY_DIR,):
            raise ToolError(f"The path {command.path} does not exist. Please provide a valid path.")
        entries: set[str] = set()
        for rest in below:
            for depth in range(1, min(len(rest), 2) + 1):
                entries.add("/".join(rest[:depth]) + ("/" if depth < len(rest) else ""))
        base = command.path.rstrip("/")
        listing = "\n".join(f"{base}/{entry}" for entry in sorted(entries))
        header = f"Here're the files and directories up to 2 levels deep in {base}:"
        return f"{header}\n{base}" + (f"\n{listing}" if listing else "")

    def create(self, command: BetaMemoryTool20250818CreateCommand) -> str:
        """Create a file (refused if it exists)."""
        parts = parse_path(command.path)
        if self._read_or_none(parts) is not None:
            raise ToolError(f"File {command.path} already exists")
        self._write(parts, command.file_text)
        return f"File created successfully at: {command.path}"

    def str_replace(self, command: BetaMemoryTool20250818StrReplaceCommand) -> str:
        """Replace the one occurrence of ``old_str`` in a file."""
        parts = parse_path(command.path)
        text = self._read(parts, command.path)
        count = text.count(command.old_str)
        if count != 1:
            raise ToolError(
                f"No replacement was performed: old_str `{command.old_str}` appears {count} "
                f"times in {command.path}; it must appear exactly once."
            )
        self._write(parts, text.replace(command.old_str, command.new_str))
        return "The memory file has been edited."

    def insert(self, command: BetaMemoryTool20250818InsertCommand) -> str:
        """Insert text after line ``insert_line`` (0: at the top)."""
        parts = parse_path(command.path)
        lines = self._read(parts, command.path).split("\n")
        if not 0 <= command.insert_line <= len(lines):
            raise ToolError(
                f"Invalid `insert_line` parameter: {command.insert_line}. "
                f"It should be within the range [0, {len(lines)}]."
            )
        lines.insert(command.insert_line, command.insert_text.rstrip("\n"))
        self._write(parts, "\n".join(lines))
        return f"The file {command.path} has been edited."

    def delete(self, command: BetaMemoryTool20250818DeleteCommand) -> str:
        """Delete a file, or a directory and everything below it."""
        parts = parse_path(command.path)
        if not parts:
            raise ToolError(f"Cannot delete the {ROOT} directory itself")
        doomed = [p for p in self._tree() if p[: len(parts)] == parts]
        if not doomed:
            raise ToolError(f"The path {command.path} does not exist")
        self._remove(doomed)
        return f"Successfully deleted {command.path}"

    def rename(self, command: BetaMemoryTool20250818RenameCommand) -> str:
        """Move a file or a directory (refused if the destination exists)."""
        old, new = parse_path(command.old_path), parse_path(command.new_path)
        if not old:
            raise ToolError(f"Cannot rename the {ROOT} directory itself")
        tree = self._tree()
        moving = {p: t for p, t in tree.items() if p[: len(old)] == old}
        if not moving:
            raise ToolError(f"The path {command.old_path} does not exist")
        if any(p[: len(new)] == new for p in tree):
            raise ToolError(f"The destination {command.new_path} already exists")
        for parts, text in moving.items():
            self._write(new + parts[len(old) :], text)
        self._remove(list(moving))
        return f"Successfully renamed {command.old_path} to {command.new_path}"

    def clear_all_memory(self) -> str:
        """Remove every file of the tree, identity documents included."""
        self._remove(list(self._tree()))
        return "All memory cleared"


def _is_identity(parts: tuple[str, ...]) -> bool:
    return len(parts) == 2 and parts[0] == IDENTITY_DIR
