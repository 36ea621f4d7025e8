"""Language models behind `core.summarize.ChatModel`: OpenAI-compatible chat completions."""

from aether_memory.backends.llm.openai import OpenAIChat

__all__ = ["OpenAIChat"]
