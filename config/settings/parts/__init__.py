"""The shared settings by topic; `config.settings.base` imports them all, in a fixed order.

Each module reads the environment through `env` / `secret` (../environment.py) when it is imported.
A setting computed from another one imports it from the module that defines it (e.g.
`from .data_stores import REDIS_URL`), never from `base`, so nothing depends on import order.
"""
