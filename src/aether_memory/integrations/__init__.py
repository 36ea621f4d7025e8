"""Adapters for the frameworks agents are built with, each behind its own extra.

- `aether_memory.integrations.langgraph` — a LangGraph checkpointer and long-term store
  (``pip install 'aether-memory[langgraph]'``);
- `aether_memory.integrations.openai_agents` — an OpenAI Agents SDK session and the memory
  tools as SDK function tools (``[openai-agents]``);
- `aether_memory.integrations.langchain` — a LangChain chat message history (``[langchain]``);
- `aether_memory.integrations.anthropic_memory` — a backend for Anthropic's memory tool
  (``[anthropic]``).

Nothing here is imported by ``aether_memory`` itself: importing this package loads no
framework. Every adapter is built on the public `Memory` / `AsyncMemory` handles, so it works on
every backend (Redis with or without modules, SQLite, and the fallback store).
"""
