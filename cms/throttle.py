"""Fixed-window counters in Django's cache: how many times something happened in the current window. With the
default local-memory cache each server process counts on its own; a shared cache (`CACHES`: Redis, the database)
counts across app servers."""

import time

from django.core.cache import cache


def count_in_window(name: str, *, window_seconds: int) -> int:
    """Count one more event under `name` in the current window of `window_seconds`, and return the count."""
    key = f"trialdocs:{name}:{int(time.time() // window_seconds)}"
    cache.add(key, 0, timeout=window_seconds)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window_seconds)
        return 1
