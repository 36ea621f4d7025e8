"""The APIs the users' own code is written against, on aether memory.

- `aether_memory.compat.adapter` — `create_memory_adapter(...)`, the Redis memory adapter's
  entry point (async: ``add_step``, ``save_episode``, ``search_episodes``, skills, context);
- `aether_memory.compat.aetheros` — `RedisMemory`, the AetherOS kernel memory (identity,
  tool schemas, checkpoints, episodes).
"""
