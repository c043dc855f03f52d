"""How vrs uses Redis: connecting, never failing a caller, and the catalog generation.

- `connection`: URL, credentials, TLS files and the plaintext rule; `redis_client`
- `guard`: `RedisGuard`, Redis calls with a deadline that never fail the caller
- `check`: is Redis there and does it take our password (at startup, in one line)
- `generation`: `CatalogGeneration`, the number every catalog change bumps (cache keys carry it)
"""
