"""Named thread pools of this process, created on first use (so after any fork) and kept for its life."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

_pools: dict[str, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def process_thread_pool(name: str, *, size: int) -> ThreadPoolExecutor:
    """The pool called `name` (also its threads' name prefix); `size` counts only on first use."""
    with _lock:
        pool = _pools.get(name)
        if pool is None:
            pool = _pools[name] = ThreadPoolExecutor(max_workers=size, thread_name_prefix=name)
        return pool
