"""Memory tools for agents: one definition each, served as MCP tools, REST calls and
function-calling schemas (OpenAI and Anthropic formats)."""
