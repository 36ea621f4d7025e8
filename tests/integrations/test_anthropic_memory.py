"""Anthropic's memory tool on aether memory, driven through the SDK's own tool class (its
``call`` parses the model's input into the SDK's command types), offline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from anthropic.lib.tools import ToolError

from aether_memory import Memory
from aether_memory.integrations.anthropic_memory import AetherMemoryTool


@pytest.fixture
def tool(mem: Memory) -> Iterator[AetherMemoryTool]:
    mem.agent("assistant").identity.put("mission.md", "Help the user.\nBe brief.")
    yield AetherMemoryTool(mem, agent="assistant")


def test_the_tree_maps_onto_identity_and_working_memory(
    tool: AetherMemoryTool, mem: Memory
) -> None:
    assert tool.to_dict()["name"] == "memory"
    created = tool.call({"command": "create", "path": "/memories/notes/user.md",
                         "file_text": "Name: Ada\nCity: Lyon"})  # fmt: skip
    assert "created" in str(created)
    listing = str(tool.call({"command": "view", "path": "/memories"}))
    assert "/memories/identity/" in listing and "/memories/notes/user.md" in listing
    shown = str(tool.call({"command": "view", "path": "/memories/notes/user.md"}))
    assert "     1\tName: Ada" in shown and "     2\tCity: Lyon" in shown
    one_line = str(tool.call({"command": "view", "path": "/memories/notes/user.md",
                              "view_range": [2, 2]}))  # fmt: skip
    assert "City: Lyon" in one_line and "Ada" not in one_line
    tool.call({"command": "str_replace", "path": "/memories/notes/user.md",
               "old_str": "Lyon", "new_str": "Paris"})  # fmt: skip
    tool.call({"command": "insert", "path": "/memories/notes/user.md", "insert_line": 0,
               "insert_text": "# User\n"})  # fmt: skip
    again = AetherMemoryTool(mem, agent="assistant")  # another process would see the same
    assert "Paris" in str(again.call({"command": "view", "path": "/memories/notes/user.md"}))
    # The identity documents are the agent's own.
    tool.call({"command": "str_replace", "path": "/memories/identity/mission.md",
               "old_str": "Be brief.", "new_str": "Be thorough."})  # fmt: skip
    assert mem.agent("assistant").identity.get("mission.md") == "Help the user.\nBe thorough."
    tool.call({"command": "rename", "old_path": "/memories/notes",
               "new_path": "/memories/people"})  # fmt: skip
    moved = str(tool.call({"command": "view", "path": "/memories/people/user.md"}))
    assert "# User" in moved and "Paris" in moved
    with pytest.raises(ToolError):
        tool.call({"command": "view", "path": "/memories/notes/user.md"})
    tool.call({"command": "delete", "path": "/memories/people"})
    assert "people" not in str(tool.call({"command": "view", "path": "/memories"}))
    assert mem.agent("other").identity.all() == {}  # another agent's tree is untouched


@pytest.mark.parametrize(
    "path",
    [
        "/memories/../secrets.md",
        "/memories/notes/../../x",
        "/memories/./x",
        "/memories/.hidden",
        "/etc/passwd",
        "/memories/a\\..\\b",
        "/memories/x\x00y",
        "memories/x",
        "/memoriesX/y",
        "/memories/%2e%2e/x",
    ],
)
def test_path_traversal_is_refused_and_writes_nothing(
    tool: AetherMemoryTool, mem: Memory, path: str
) -> None:
    before = str(tool.call({"command": "view", "path": "/memories"}))
    with pytest.raises(ToolError):
        tool.call({"command": "create", "path": path, "file_text": "x"})
    with pytest.raises(ToolError):
        tool.call({"command": "view", "path": path})
    assert str(tool.call({"command": "view", "path": "/memories"})) == before


def test_errors_the_model_can_act_on(tool: AetherMemoryTool) -> None:
    tool.call({"command": "create", "path": "/memories/a.md", "file_text": "x x"})
    with pytest.raises(ToolError, match="already exists"):
        tool.call({"command": "create", "path": "/memories/a.md", "file_text": "y"})
    with pytest.raises(ToolError, match="2 times"):
        tool.call({"command": "str_replace", "path": "/memories/a.md", "old_str": "x",
                   "new_str": "y"})  # fmt: skip
    with pytest.raises(ToolError, match="range"):
        tool.call({"command": "insert", "path": "/memories/a.md", "insert_line": 9,
                   "insert_text": "z"})  # fmt: skip
    with pytest.raises(ToolError, match="itself"):
        tool.call({"command": "delete", "path": "/memories"})
    with pytest.raises(ToolError, match="does not exist"):
        tool.call({"command": "delete", "path": "/memories/nope.md"})
    assert tool.clear_all_memory() == "All memory cleared"
    assert str(tool.call({"command": "view", "path": "/memories"})).endswith("/memories")
